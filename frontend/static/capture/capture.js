// Offline field capture: record a step (photos, GPS, weight) without signal, keep it in IndexedDB,
// and when the network is back upload it as an evidence bundle and send the addStep transaction
// from the wallet (EIP-1193). Every state change is written to IndexedDB before the next step, so
// closing the browser at any point loses nothing and never sends the same step twice.
(function () {
  "use strict";
  const DB_NAME = "tambon-capture";
  const msgs = document.getElementById("capture-msgs");
  const t = (key) => (msgs && msgs.dataset[key]) || key;
  let syncing = false;

  // ---- IndexedDB -------------------------------------------------------------------------------
  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore("queue", { keyPath: "id", autoIncrement: true });
        db.createObjectStore("settings");
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  async function tx(store, mode, fn) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(store, mode);
      let result;
      Promise.resolve(fn(transaction.objectStore(store))).then((r) => { result = r; });
      transaction.oncomplete = () => { db.close(); resolve(result); };
      transaction.onerror = () => { db.close(); reject(transaction.error); };
      transaction.onabort = () => { db.close(); reject(transaction.error); };
    });
  }
  const reqP = (req) => new Promise((res, rej) => { req.onsuccess = () => res(req.result); req.onerror = () => rej(req.error); });
  const allItems = () => tx("queue", "readonly", (s) => reqP(s.getAll()));
  const putItem = (item) => tx("queue", "readwrite", (s) => reqP(s.put(item)));
  const deleteItem = (id) => tx("queue", "readwrite", (s) => reqP(s.delete(id)));
  const getSetting = (key) => tx("settings", "readonly", (s) => reqP(s.get(key)));
  const putSetting = (key, value) => tx("settings", "readwrite", (s) => reqP(s.put(value, key)));

  // ---- forms -----------------------------------------------------------------------------------
  const profileForm = document.getElementById("profile");
  const stepForm = document.getElementById("step");
  const status = document.getElementById("status");

  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle("fail", !!bad);
  }

  function formValues(form) {
    const out = {};
    for (const el of form.elements) {
      if (el.name && el.type !== "file" && el.type !== "submit" && el.type !== "button") out[el.name] = el.value.trim();
    }
    return out;
  }

  async function loadProfile() {
    const profile = (await getSetting("profile")) || {};
    for (const el of profileForm.elements) {
      if (el.name && profile[el.name] !== undefined) el.value = profile[el.name];
    }
  }

  function place(name, phone, district, province) {
    const address = { country: "TH" };
    if (district) address.district = district;
    if (province) address.province = province;
    return { name: name, phone: phone, address: address };
  }

  function localIso(date) {
    const pad = (n) => String(n).padStart(2, "0");
    const offset = -date.getTimezoneOffset();
    const sign = offset >= 0 ? "+" : "-";
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      sign + pad(Math.floor(Math.abs(offset) / 60)) + ":" + pad(Math.abs(offset) % 60);
  }

  function buildRecord(p, s, gps, photoNames) {
    const farm = place(p.farm_name, p.farm_phone, p.farm_district, p.farm_province);
    farm.field_name = p.field_name || undefined;
    const record = {
      schema_version: "1",
      event: s.event,
      date: s.date,
      datetime: localIso(new Date()),
      commodity: { name: p.commodity, variety: p.variety || undefined },
      quantity: { value: Number(s.weight_kg), unit: "kg" },
      farm: farm,
      harvester: { business_name: p.harvester_name, phone: p.harvester_phone },
      recipient: place(p.recipient_name, p.recipient_phone, p.recipient_district, p.recipient_province),
      reference_documents: [{ type: s.doc_type || "harvest log", number: s.doc_number }],
      photos: photoNames,
      captured_by: "field capture",
    };
    if (s.event === "cultivation") {
      delete record.harvester; delete record.recipient; delete record.quantity;
    }
    if (gps) record.gps = gps;
    return JSON.parse(JSON.stringify(record)); // drops undefined fields
  }

  function position() {
    return new Promise((resolve) => {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(
        (pos) => resolve({
          lat: Number(pos.coords.latitude.toFixed(6)),
          lon: Number(pos.coords.longitude.toFixed(6)),
          accuracy_m: Math.round(pos.coords.accuracy || 0),
        }),
        () => resolve(null),
        { enableHighAccuracy: true, timeout: 8000, maximumAge: 60000 }
      );
    });
  }

  profileForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    await putSetting("profile", formValues(profileForm));
    say(t("profileSaved"));
  });

  stepForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const s = formValues(stepForm);
    const profile = (await getSetting("profile")) || {};
    const files = Array.from(document.getElementById("photos").files || []);
    const photos = files.map((f, i) => ({
      name: (f.name || "photo-" + (i + 1) + ".jpg").replace(/[^A-Za-z0-9._-]+/g, "-"), type: f.type, blob: f,
    }));
    const gps = await position();
    const item = {
      createdAt: new Date().toISOString(),
      batchId: s.batch_id,
      stage: s.event === "cultivation" ? "CULTIVATION" : "HARVEST",
      record: buildRecord(profile, s, gps, photos.map((p) => p.name)),
      photos: photos,
      state: "queued",
      cid: null, tx: null, txHash: null, error: null,
    };
    await putItem(item);
    stepForm.reset();
    stepForm.elements.date.value = new Date().toISOString().slice(0, 10);
    say(navigator.onLine ? t("queuedSending") : t("queuedOffline"));
    await render();
    sync();
  });

  // ---- queue -----------------------------------------------------------------------------------
  async function render() {
    const list = document.getElementById("queue");
    const items = await allItems();
    list.textContent = "";
    for (const item of items) {
      const li = document.createElement("li");
      li.dataset.state = item.state;
      li.dataset.id = item.id;
      const head = document.createElement("strong");
      head.textContent = "#" + item.batchId + " · " + item.record.event + " · " + item.record.date +
        (item.record.quantity ? " · " + item.record.quantity.value + " kg" : "");
      const state = document.createElement("div");
      state.className = "state";
      state.textContent = t("state_" + item.state) + (item.cid ? " · " + item.cid : "") +
        (item.txHash ? " · tx " + item.txHash : "") + (item.error ? " · " + item.error : "");
      const meta = document.createElement("div");
      meta.className = "hint";
      meta.textContent = item.photos.length + " " + t("photos") +
        (item.record.gps ? " · GPS " + item.record.gps.lat + ", " + item.record.gps.lon : "");
      li.append(head, state, meta);
      if (item.state === "rejected" || item.state === "done") {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = t("remove");
        remove.addEventListener("click", async () => { await deleteItem(item.id); render(); });
        li.append(remove);
      }
      list.append(li);
    }
    const pending = items.filter((i) => !["done", "rejected", "failed"].includes(i.state)).length;
    document.getElementById("pending").textContent = String(pending);
  }

  function network() {
    const el = document.getElementById("net");
    el.dataset.online = String(navigator.onLine);
    el.textContent = navigator.onLine ? t("online") : t("offline");
  }

  async function upload(item) {
    await window.tambonSignIn(window.ethereum, await wallet());
    const body = new FormData();
    body.append("batch_id", item.batchId);
    body.append("stage", item.stage);
    body.append("record", JSON.stringify(item.record));
    for (const p of item.photos) body.append("photos", p.blob, p.name);
    const response = await fetch("/api/capture/steps", { method: "POST", body: body });
    let answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    if (!response.ok) {
      const error = new Error((answer && answer.detail) || response.status + " " + response.statusText);
      error.rejected = response.status >= 400 && response.status < 500;
      throw error;
    }
    return answer;
  }

  async function wallet() {
    if (!window.ethereum) throw new Error(t("noWallet"));
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    return accounts[0];
  }

  async function step(item) {
    if (item.state === "queued") {
      const answer = await upload(item);
      item.cid = answer.cid; item.tx = answer.tx; item.state = "uploaded"; item.error = null;
      await putItem(item);
      await render();
    }
    if (item.state === "uploaded") {
      const from = await wallet();
      const hash = await window.ethereum.request({
        method: "eth_sendTransaction", params: [{ from: from, to: item.tx.to, data: item.tx.data, value: "0x0" }],
      });
      item.txHash = hash; item.state = "sent";
      await putItem(item);
      await render();
    }
    if (item.state === "sent") {
      for (let i = 0; i < 120; i++) {
        const receipt = await window.ethereum.request({ method: "eth_getTransactionReceipt", params: [item.txHash] });
        if (receipt) {
          const ok = receipt.status === "0x1" || receipt.status === 1;
          item.state = ok ? "done" : "failed";
          item.error = ok ? null : t("reverted");
          await putItem(item);
          return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async function sync() {
    network();
    if (syncing || !navigator.onLine) return;
    syncing = true;
    try {
      for (const item of await allItems()) {
        if (["done", "rejected", "failed"].includes(item.state)) continue;
        try {
          await step(item);
        } catch (err) {
          if (err.rejected) {
            item.state = "rejected"; item.error = err.message;
            await putItem(item);
          } else {
            item.error = err.message || String(err); // network or wallet trouble: retried later
            await putItem(item);
            if (err instanceof TypeError) break; // offline again
          }
        }
        await render();
      }
      say(t("synced"));
    } finally {
      syncing = false;
      await render();
    }
  }

  window.addEventListener("online", sync);
  window.addEventListener("offline", network);
  document.getElementById("sync").addEventListener("click", sync);
  setInterval(sync, 5000);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/capture/sw.js", { scope: "/capture/" }).catch((err) => say(String(err), true));
  }
  stepForm.elements.date.value = new Date().toISOString().slice(0, 10);
  network();
  loadProfile().then(render).then(sync);
})();
