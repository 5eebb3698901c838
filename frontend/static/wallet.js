// Wallet flows over EIP-1193 (window.ethereum). The server builds every transaction and the
// EIP-712 typed data; this script only asks the wallet to send or sign them.
(function () {
  "use strict";
  const msgs = document.getElementById("wallet-msgs");
  const t = (key) => (msgs && msgs.dataset[key]) || key;
  let account = null;

  function say(el, text, bad) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("fail", !!bad);
  }

  async function api(path, options) {
    const response = await fetch(path, options);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      throw new Error((body && body.detail) || response.status + " " + response.statusText);
    }
    return body;
  }

  function wallet() {
    if (!window.ethereum) throw new Error(t("noWallet"));
    return window.ethereum;
  }

  async function connect() {
    const accounts = await wallet().request({ method: "eth_requestAccounts" });
    account = accounts[0];
    say(document.getElementById("account"), t("connected") + " " + account);
    // A community sees its own milestones first; the server refuses anyone else's anyway.
    const select = document.getElementById("milestone");
    if (select) {
      let firstOwn = null;
      for (const option of select.options) {
        const own = option.dataset.recipient && option.dataset.recipient.toLowerCase() === account.toLowerCase();
        option.disabled = !own;
        if (own && firstOwn === null) firstOwn = option;
      }
      if (firstOwn && select.selectedOptions[0] && select.selectedOptions[0].disabled) firstOwn.selected = true;
    }
    return account;
  }

  async function send(tx, statusEl) {
    say(statusEl, t("confirm"));
    const hash = await wallet().request({
      method: "eth_sendTransaction",
      params: [{ from: account, to: tx.to, data: tx.data, value: tx.value }],
    });
    say(statusEl, t("waiting"));
    for (let i = 0; i < 120; i++) {
      const receipt = await wallet().request({ method: "eth_getTransactionReceipt", params: [hash] });
      if (receipt) {
        if (receipt.status !== "0x1" && receipt.status !== 1) throw new Error("transaction reverted " + hash);
        return hash;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error("no receipt for " + hash);
  }

  const connectButton = document.getElementById("connect");
  if (connectButton) {
    connectButton.addEventListener("click", () => connect().catch((e) => say(document.getElementById("account"), e.message, true)));
  }

  // Community: upload evidence, then submit the milestone.
  const form = document.getElementById("submit-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = document.getElementById("status");
      try {
        if (!account) await connect();
        const [grant, milestone] = form.milestone.value.split(":");
        const data = new FormData();
        for (const file of form.files.files) data.append("files", file, file.name);
        data.append("note", form.note.value);
        data.append("submitter", account);
        data.append("grant_id", grant);
        data.append("milestone_id", milestone);
        say(status, t("uploading"));
        const uploaded = await api("/api/evidence", { method: "POST", body: data });
        say(status, t("building"));
        const tx = await api(`/api/wallet/grants/${grant}/milestones/${milestone}/submit-tx`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ cid: uploaded.cid, sender: account }),
        });
        const hash = await send(tx, status);
        say(status, t("submitted") + " " + uploaded.cid + " · " + hash);
        status.dataset.cid = uploaded.cid;
        status.dataset.done = "1";
      } catch (e) {
        say(status, t("failed") + " " + e.message, true);
      }
    });
  }

  // Council: sign the Release typed data, collect, send.
  async function refresh(card) {
    const base = `/api/wallet/grants/${card.dataset.grant}/milestones/${card.dataset.milestone}`;
    const round = await api(base + "/release");
    card.querySelector(".sig-status").textContent =
      round.signers.length + " " + t("of") + " " + round.threshold + " " + t("signatures");
    card.querySelector(".release").disabled = !round.ready;
    card.dataset.signers = round.signers.join(",");
    return round;
  }

  for (const card of document.querySelectorAll("article.pending")) {
    const base = `/api/wallet/grants/${card.dataset.grant}/milestones/${card.dataset.milestone}`;
    const status = card.querySelector(".status");
    refresh(card).catch((e) => say(status, t("failed") + " " + e.message, true));
    card.querySelector(".sign").addEventListener("click", async () => {
      try {
        if (!account) await connect();
        const round = await refresh(card);
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
        say(status, t("failed") + " " + e.message, true);
      }
    });
    card.querySelector(".release").addEventListener("click", async () => {
      try {
        if (!account) await connect();
        const tx = await api(base + "/release-tx");
        const hash = await send(tx, status);
        say(status, t("released") + " " + hash);
        card.dataset.released = "1";
      } catch (e) {
        say(status, t("failed") + " " + e.message, true);
      }
    });
  }
})();
