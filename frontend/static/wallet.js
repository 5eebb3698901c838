// Wallet flows over EIP-1193 (window.ethereum). The server builds every transaction and the
// EIP-712 typed data; this script asks the wallet to send or sign them, on the site's chain only,
// and reports success only once the site's own node has the receipt.
(function () {
  "use strict";
  const msgs = document.getElementById("wallet-msgs");
  const english = document.documentElement.lang === "en";
  const site = msgs
    ? { id: msgs.dataset.chainId, name: msgs.dataset.chainName, rpc: msgs.dataset.chainRpc }
    : null;
  let account = null;

  // t("key", {name: value}): the page's translation with {name} placeholders filled in
  function t(key, values) {
    let text = (msgs && msgs.dataset[key]) || key;
    for (const [name, value] of Object.entries(values || {})) text = text.split("{" + name + "}").join(String(value));
    return text;
  }

  // An error whose message is already in the page's language.
  class Told extends Error {}

  function say(el, text, bad) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("fail", !!bad);
  }

  function explain(error) {
    if (error instanceof Told) return error.message;
    if (error && error.code === 4001) return t("declined");
    // wallet and network errors come in English; the page says what happened in its own language
    return t("failed") + (english && error && error.message ? " " + error.message : "");
  }

  async function api(path, options) {
    const response = await fetch(path, options);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const key = response.status >= 500 ? "http5xx" : "http" + response.status;
      const known = msgs && msgs.dataset[key];
      const detail = body && body.detail ? String(body.detail) : response.statusText;
      throw new Told((known ? t(key) : t("http400")) + (english ? " (" + detail + ")" : ""));
    }
    return body;
  }

  function wallet() {
    if (!window.ethereum) throw new Told(t("noWallet"));
    return window.ethereum;
  }

  const sameChain = (a, b) => parseInt(a, 16) === parseInt(b, 16);

  // The wallet must be on the site's chain before anything is signed or sent: offer to switch,
  // or to add the chain, and check again afterwards (a wallet may ignore the request).
  async function ensureChain(statusEl) {
    const w = wallet();
    if (sameChain(await w.request({ method: "eth_chainId" }), site.id)) return;
    say(statusEl, t("switching", { chain: site.name }));
    try {
      await w.request({ method: "wallet_switchEthereumChain", params: [{ chainId: site.id }] });
    } catch (e) {
      if (e && e.code === 4001) throw new Told(t("wrongChain", { chain: site.name }));
      try {
        await w.request({
          method: "wallet_addEthereumChain",
          params: [{
            chainId: site.id, chainName: site.name, rpcUrls: [site.rpc],
            nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
          }],
        });
      } catch (added) {
        throw new Told(t("wrongChain", { chain: site.name }));
      }
    }
    if (!sameChain(await w.request({ method: "eth_chainId" }), site.id)) {
      throw new Told(t("wrongChain", { chain: site.name }));
    }
  }

  async function connect(statusEl) {
    const accounts = await wallet().request({ method: "eth_requestAccounts" });
    account = accounts[0];
    await ensureChain(statusEl);
    say(document.getElementById("account"), t("connected") + " " + account);
    document.dispatchEvent(new CustomEvent("wallet:connected", { detail: account }));
    return account;
  }

  // Send, then wait for the receipt on the site's chain (not the wallet's word for it).
  async function send(tx, statusEl) {
    await ensureChain(statusEl);
    say(statusEl, t("confirm"));
    const hash = await wallet().request({
      method: "eth_sendTransaction",
      params: [{ from: account, to: tx.to, data: tx.data, value: tx.value, chainId: tx.chainId }],
    });
    say(statusEl, t("waiting"));
    for (let i = 0; i < 90; i++) {
      const receipt = await api("/api/wallet/receipts/" + hash);
      if (receipt.status === "success") return receipt;
      if (receipt.status === "reverted") throw new Told(t("reverted"));
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Told(t("noReceipt"));
  }

  const accountEl = document.getElementById("account");
  const connectButton = document.getElementById("connect");
  if (connectButton) {
    if (!window.ethereum) {
      // told before any form is filled or anything signed
      say(accountEl, t("noWallet"), true);
      connectButton.disabled = true;
    }
    connectButton.addEventListener("click", () => connect(accountEl).catch((e) => say(accountEl, explain(e), true)));
  }

  // Community: only the community wallet of an open milestone may fill the form.
  const form = document.getElementById("submit-form");
  if (form) {
    const fields = form.querySelector("fieldset");
    const select = form.milestone;
    fields.disabled = true;
    document.addEventListener("wallet:connected", () => {
      let firstOwn = null;
      for (const option of select.options) {
        const own = option.dataset.recipient && option.dataset.recipient.toLowerCase() === account.toLowerCase();
        option.disabled = !own;
        option.hidden = !own;
        if (own && firstOwn === null) firstOwn = option;
      }
      if (firstOwn === null) {
        fields.disabled = true;
        say(accountEl, t("notRecipient"), true);
        return;
      }
      if (select.selectedOptions[0] && select.selectedOptions[0].disabled) firstOwn.selected = true;
      fields.disabled = false;
    });

    const maxBytes = Number(form.dataset.maxBytes);
    const maxFiles = Number(form.dataset.maxFiles);
    const types = ["image/jpeg", "image/png", "image/webp", "application/pdf"];
    function checkFiles(files) {
      if (!files.length) throw new Told(t("noFiles"));
      if (files.length > maxFiles) throw new Told(t("tooMany", { n: maxFiles }));
      let total = 0;
      for (const file of files) {
        if (!types.includes(file.type)) throw new Told(t("badFile", { name: file.name }));
        total += file.size;
      }
      if (total > maxBytes) throw new Told(t("tooBig", { mb: Math.floor(maxBytes / 1048576) }));
    }
    const status = document.getElementById("status");
    form.files.addEventListener("change", () => {
      try { checkFiles(form.files.files); say(status, ""); } catch (e) { say(status, explain(e), true); }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        if (!account) throw new Told(t("connectFirst"));
        checkFiles(form.files.files);
        await ensureChain(status);
        const [grant, milestone] = select.value.split(":");
        const data = new FormData();
        for (const file of form.files.files) data.append("files", file, file.name);
        data.append("note", form.note.value);
        data.append("submitter", account);
        data.append("grant_id", grant);
        data.append("milestone_id", milestone);
        await window.tambonSignIn(wallet(), account);
        say(status, t("uploading"));
        const uploaded = await api("/api/evidence", { method: "POST", body: data });
        say(status, t("building"));
        const tx = await api(`/api/wallet/grants/${grant}/milestones/${milestone}/submit-tx`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ cid: uploaded.cid, sender: account }),
        });
        const receipt = await send(tx, status);
        say(status, t("submitted", { block: receipt.block }));
        status.dataset.cid = uploaded.cid;
        status.dataset.tx = receipt.tx_hash;
        status.dataset.done = "1";
      } catch (e) {
        say(status, explain(e), true);
      }
    });
  }

  // Council: show what the wallet will show, who has signed; sign, reject with a reason, release.
  const members = [...document.querySelectorAll("[data-member]")].map((el) => el.dataset.member);
  const isMember = () => account && members.includes(account.toLowerCase());
  const short = window.tambonShortAddress;

  function showTyped(card, round) {
    const m = round.typed_data.message;
    const set = (name, value) => {
      const el = card.querySelector(`[data-typed="${name}"]`);
      if (el) el.textContent = value;
    };
    set("grantId", m.grantId);
    set("milestoneId", m.milestoneId);
    set("amount", m.amount);
    set("evidence", m.evidence);
    set("nonce", m.nonce);
    set("deadline", m.deadline);
    set("contract", round.typed_data.domain.verifyingContract);
    set("chainId", round.typed_data.domain.chainId);
  }

  async function refresh(card) {
    const base = `/api/wallet/grants/${card.dataset.grant}/milestones/${card.dataset.milestone}`;
    const round = await api(base + "/release");
    showTyped(card, round);
    card.querySelector(".sig-status").textContent =
      round.signers.length + " " + t("of") + " " + round.threshold + " " + t("signatures");
    const names = round.signers.map((a) => {
      const item = document.querySelector(`[data-member="${a.toLowerCase()}"]`);
      return item ? item.textContent.trim() : short(a);
    });
    card.querySelector(".signers").textContent = t("signedBy") + " " + (names.join(", ") || t("nobody"));
    card.querySelector(".release").disabled = !round.ready;
    card.dataset.signers = round.signers.join(",");
    return round;
  }

  function memberOnly(card) {
    const ok = isMember();
    for (const b of card.querySelectorAll(".sign, .reject")) b.disabled = !ok;
    const reason = card.querySelector(".reason");
    if (reason) reason.disabled = !ok;
    if (account && !ok) say(card.querySelector(".status"), t("notMember"), true);
  }

  for (const card of document.querySelectorAll("article.pending")) {
    const base = `/api/wallet/grants/${card.dataset.grant}/milestones/${card.dataset.milestone}`;
    const status = card.querySelector(".status");
    refresh(card).catch((e) => say(status, explain(e), true));
    memberOnly(card);
    document.addEventListener("wallet:connected", () => memberOnly(card));
    card.querySelector(".sign").addEventListener("click", async () => {
      try {
        if (!account) throw new Told(t("connectFirst"));
        if (!isMember()) throw new Told(t("notMember"));
        await ensureChain(status);
        const round = await refresh(card);
        say(status, t("confirm"));
        const signature = await wallet().request({
          method: "eth_signTypedData_v4",
          params: [account, JSON.stringify(round.typed_data)],
        });
        await api(base + "/signatures", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ signer: account, signature: signature, deadline: round.typed_data.message.deadline }),
        });
        await refresh(card);
        say(status, t("signed"));
      } catch (e) {
        say(status, explain(e), true);
      }
    });
    // Rejection: the reason is stored as evidence, members sign the same reason, anyone sends it.
    const reason = card.querySelector(".reason");
    const rejectSigners = card.querySelector(".reject-signers");
    async function refreshRejection() {
      const round = await api(base + "/rejection");
      if (!round.open) {
        rejectSigners.textContent = "";
        card.querySelector(".send-reject").disabled = true;
        return round;
      }
      if (!reason.value.trim() && round.reason) reason.value = round.reason;
      const names = round.signers.map((a) => {
        const item = document.querySelector(`[data-member="${a.toLowerCase()}"]`);
        return item ? item.textContent.trim() : short(a);
      });
      rejectSigners.textContent = round.signers.length + " " + t("of") + " " + round.threshold + " " +
        t("signatures") + " · " + t("signedBy") + " " + (names.join(", ") || t("nobody"));
      card.querySelector(".send-reject").disabled = !round.ready;
      card.dataset.rejectSigners = round.signers.join(",");
      return round;
    }
    refreshRejection().catch(() => {});
    card.querySelector(".reject").addEventListener("click", async () => {
      try {
        if (!account) throw new Told(t("connectFirst"));
        if (!isMember()) throw new Told(t("notMember"));
        const text = reason.value.trim();
        if (text.length < 3) throw new Told(t("reasonNeeded"));
        await ensureChain(status);
        let round = await refreshRejection();
        if (!round.open || round.reason !== text) {
          await window.tambonSignIn(wallet(), account);
          round = await api(base + "/rejection", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ reason: text, author: account }),
          });
        }
        say(status, t("confirm"));
        const signature = await wallet().request({
          method: "eth_signTypedData_v4",
          params: [account, JSON.stringify(round.typed_data)],
        });
        await api(base + "/rejection/signatures", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ signer: account, signature: signature, deadline: round.typed_data.message.deadline }),
        });
        await refreshRejection();
        say(status, t("signed"));
      } catch (e) {
        say(status, explain(e), true);
      }
    });
    card.querySelector(".send-reject").addEventListener("click", async () => {
      try {
        if (!account) await connect(status);
        const tx = await api(base + "/reject-tx");
        const receipt = await send(tx, status);
        say(status, t("rejected", { block: receipt.block }));
        card.dataset.rejected = "1";
      } catch (e) {
        say(status, explain(e), true);
      }
    });
    card.querySelector(".release").addEventListener("click", async () => {
      try {
        if (!account) await connect(status);
        const tx = await api(base + "/release-tx");
        const receipt = await send(tx, status);
        say(status, t("released", { block: receipt.block }));
        card.dataset.released = "1";
      } catch (e) {
        say(status, explain(e), true);
      }
    });
  }
})();
