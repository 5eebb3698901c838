// Sign-In with Ethereum (EIP-4361) before an upload: the site hands out a message with a fresh nonce,
// the wallet signs it (personal_sign), the site opens a session (HttpOnly cookie). Reused while valid.
(function () {
  "use strict";
  function hexUtf8(text) {
    return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function json(response) {
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) throw new Error((body && body.detail) || response.status + " " + response.statusText);
    return body;
  }

  // An address as wallets show it (0x1234…abcd), on every page that shows one.
  window.tambonShortAddress = (address) => address.slice(0, 6) + "…" + address.slice(-4);

  window.tambonSignIn = async function (ethereum, account) {
    const current = await fetch("/api/auth/session", { credentials: "same-origin" });
    if (current.ok) {
      const session = await current.json();
      if (session.address.toLowerCase() === account.toLowerCase()) return session;
    }
    const prepared = await json(await fetch("/api/auth/message?address=" + encodeURIComponent(account)));
    const signature = await ethereum.request({ method: "personal_sign", params: [hexUtf8(prepared.message), account] });
    return json(await fetch("/api/auth/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message: prepared.message, signature: signature }),
    }));
  };
})();
