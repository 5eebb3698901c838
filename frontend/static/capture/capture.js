// Offline field capture: record a step (photos, GPS, weight) without signal, keep it in IndexedDB,
// and when the network is back upload it as an evidence bundle and send the addStep transaction
// from the wallet (EIP-1193). Every state change is written to IndexedDB before the next step, so
// closing the browser at any point loses nothing and never sends the same step twice.
(function () {
  "use strict";
  const DB_NAME = "tambon-capture";
  const msgs = document.getElementById("capture-msgs");
  const t = (key) => (msgs && msgs.dataset[key]) || key;
  const schema = JSON.parse(document.getElementById("record-schema").textContent);
  const cropBands = JSON.parse(document.getElementById("crop-bands").textContent);
  const dayFormat = new Intl.DateTimeFormat(document.documentElement.lang === "th" ? "th-TH" : "en-GB", { dateStyle: "long" });
  let syncing = false;
  let account = null;

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
  const select = document.getElementById("batch");

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

  // the usual document of an activity, in the page's language (the option carries it), when none is typed
  function defaultDocType(event) {
    const option = stepForm.elements.event.querySelector(`option[value="${event}"]`);
    return (option && option.dataset.doc) || "";
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
      reference_documents: [{ type: s.doc_type || defaultDocType(s.event), number: s.doc_number }],
      photos: photoNames,
      captured_by: "field capture",
    };
    if (s.event === "cultivation") {
      delete record.harvester; delete record.recipient; delete record.quantity;
    }
    if (s.event === "shipping") {  // from the farm to the next recipient, under the lot's code
      record.traceability_lot_code = s.tlc || undefined;
      const shipper = place(p.farm_name, p.farm_phone, p.farm_district, p.farm_province);  // a place: no field name
      record.tlc_source = shipper;
      record.product_description = [p.commodity, p.variety].filter(Boolean).join(" ") + (s.tlc ? ", lot " + s.tlc : "");
      record.ship_from = shipper;
      record.ship_to = record.recipient;
      delete record.harvester; delete record.recipient;
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

  // ---- validation with the record schema (the server's rules, on the device) ---------------------
  // JSON path of a record field -> the form field a farmer fills in
  const FIELD_OF = {
    "commodity.name": "commodity", "commodity.variety": "variety", "farm.name": "farm_name",
    "farm.phone": "farm_phone", "farm.address": "farm_district", "farm.field_name": "field_name",
    "harvester.business_name": "harvester_name", "harvester.phone": "harvester_phone",
    "recipient.name": "recipient_name", "recipient.phone": "recipient_phone", "recipient.address": "recipient_district",
    "quantity.value": "weight_kg", "quantity": "weight_kg", "reference_documents.0.number": "doc_number",
    "reference_documents.0.type": "doc_type", "date": "date", "event": "event",
    "ship_to.name": "recipient_name", "ship_to.phone": "recipient_phone", "ship_to.address": "recipient_district",
    "ship_from.name": "farm_name", "ship_from.phone": "farm_phone", "ship_from.address": "farm_district",
    "tlc_source": "farm_name", "ship_to": "recipient_name", "ship_from": "farm_name", "traceability_lot_code": "tlc",
  };
  function fieldLabel(name) {
    const el = document.querySelector(`[name="${name}"]`);
    const label = el && el.closest("label");
    if (!label) return name;
    return Array.from(label.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join(" ").trim();
  }
  function problems(record, only) {
    const fields = [];
    for (const error of window.RecordSchema.validate(schema, record)) {
      let path = error.path.join(".");
      while (path && !(path in FIELD_OF)) path = path.split(".").slice(0, -1).join(".");
      const name = FIELD_OF[path] || error.path.join(".");
      if (only && !only.includes(name)) continue;
      if (!fields.includes(name)) fields.push(name);
    }
    return fields;
  }
  const profileFields = () => Array.from(profileForm.elements).map((el) => el.name).filter(Boolean);
  function sampleStep() {  // a harvest step, to check the farm details alone
    return { event: "harvesting", date: new Date().toISOString().slice(0, 10), weight_kg: "1", doc_type: "x", doc_number: "x" };
  }

  profileForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const profile = formValues(profileForm);
    const bad = problems(buildRecord(profile, sampleStep(), null, []), profileFields());
    if (bad.length) {
      say(t("profileInvalid") + " " + bad.map(fieldLabel).join(", "), true);
      return;
    }
    await putSetting("profile", profile);
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
    if (!account) { say(t("connectFirst"), true); return; }
    const checked = buildRecord(profile, s, null, photos.map((p) => p.name));
    const bad = problems(checked);
    if (bad.length) {
      say(t("invalid") + " " + bad.map(fieldLabel).join(", "), true);
      return;
    }
    const logFile = s.event === "shipping" ? (document.getElementById("templog").files || [])[0] : null;
    if (logFile && !(await previewLog())) { say(t("logUnreadable"), true); return; }
    const gps = await position();
    const item = {
      createdAt: new Date().toISOString(),
      holder: account,
      batchId: s.batch_id,
      stage: stepForm.elements.event.selectedOptions[0].dataset.stage,
      record: buildRecord(profile, s, gps, photos.map((p) => p.name)),
      photos: photos,
      log: logFile ? { name: logFile.name || "temperature-log.csv", blob: logFile } : null,
      state: "queued",
      cid: null, tx: null, txHash: null, error: null,
    };
    await putItem(item);
    stepForm.reset();
    stepForm.elements.date.value = new Date().toISOString().slice(0, 10);
    showTransport();
    say(navigator.onLine ? t("queuedSending") : t("queuedOffline"));
    await render();
    sync();
  });

  // ---- a TRANSPORT step's temperature log: previewed on the device before it is queued ------------
  const transport = document.getElementById("transport");
  const logInput = document.getElementById("templog");
  const logPreview = document.getElementById("log-preview");
  const number = new Intl.NumberFormat(document.documentElement.lang === "th" ? "th-TH" : "en-GB", { maximumFractionDigits: 1 });
  const moment = new Intl.DateTimeFormat(document.documentElement.lang === "th" ? "th-TH" : "en-GB", {
    dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Bangkok",
  });
  function selectedLot() {
    const option = select.selectedOptions[0];
    return { crop: (option && option.dataset.crop) || "", lot: (option && option.dataset.lot) || "" };
  }
  function showTransport() {
    transport.hidden = stepForm.elements.event.value !== "shipping";
    if (!stepForm.elements.tlc.value) stepForm.elements.tlc.value = selectedLot().lot;
  }
  function line(text, cls) {
    const p = document.createElement("p");
    p.textContent = text;
    if (cls) p.className = cls;
    return p;
  }
  // true when the chosen file reads as a temperature log (or none is chosen)
  async function previewLog() {
    logPreview.textContent = "";
    const file = (logInput.files || [])[0];
    if (!file) return true;
    const log = window.TempLog.parse(await file.text());
    if (!log) {
      logPreview.append(line(t("logUnreadable"), "fail"));
      return false;
    }
    const low = Math.min(...log.celsius), high = Math.max(...log.celsius);
    const first = Math.min(...log.times), last = Math.max(...log.times);
    logPreview.dataset.points = String(log.times.length);
    logPreview.append(
      line(log.times.length + " " + t("logPoints") + " · " + t("logFrom") + " " + moment.format(first) + " " + t("logTo") + " " + moment.format(last)),
      line(t("logRange") + " " + number.format(low) + " – " + number.format(high) + " °C"),
    );
    const band = cropBands[selectedLot().crop];
    if (band) {
      const outside = log.celsius.filter((c) => c < band[0] || c > band[1]).length;
      logPreview.append(line(t("logBand") + " " + number.format(band[0]) + " – " + number.format(band[1]) + " °C · " +
        outside + " " + t("logOutside"), outside ? "warn" : "pass"));
    } else {
      logPreview.append(line(t("logNoBand")));
    }
    return true;
  }
  stepForm.elements.event.addEventListener("change", showTransport);
  logInput.addEventListener("change", () => previewLog().catch((e) => say(e.message, true)));
  select.addEventListener("change", () => {
    stepForm.elements.tlc.value = selectedLot().lot;
    previewLog().catch((e) => say(e.message, true));
  });

  // ---- queue -----------------------------------------------------------------------------------
  function eventLabel(value) {
    const option = stepForm.elements.event.querySelector(`option[value="${value}"]`);
    return option ? option.textContent.trim() : value;
  }
  function button(label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.className = "queue-" + label;
    b.addEventListener("click", onClick);
    return b;
  }
  async function edit(item) {
    // back into the form; the queued copy goes away
    const f = stepForm.elements;
    f.batch_id.value = item.batchId;
    f.event.value = item.record.event;
    f.date.value = item.record.date;
    f.weight_kg.value = item.record.quantity ? item.record.quantity.value : "";
    const doc = (item.record.reference_documents || [])[0] || {};
    f.doc_type.value = doc.type || "";
    f.doc_number.value = doc.number || "";
    await deleteItem(item.id);
    await render();
  }

  async function render() {
    const list = document.getElementById("queue");
    const items = await allItems();
    list.textContent = "";
    for (const item of items) {
      const li = document.createElement("li");
      li.dataset.state = item.state;
      li.dataset.id = item.id;
      const head = document.createElement("strong");
      const day = item.record.date ? dayFormat.format(new Date(item.record.date + "T12:00:00")) : "";
      head.textContent = "#" + item.batchId + " · " + eventLabel(item.record.event) + " · " + day +
        (item.record.quantity ? " · " + item.record.quantity.value + " " + t("kg") : "");
      const state = document.createElement("div");
      state.className = "state";
      state.textContent = t("state_" + item.state) + (item.error ? " · " + item.error : "");
      const meta = document.createElement("div");
      meta.className = "hint";
      meta.textContent = item.photos.length + " " + t("photos") + (item.log ? " · " + t("log") + " " + item.log.name : "") +
        (item.record.gps ? " · GPS " + item.record.gps.lat + ", " + item.record.gps.lon : "");
      li.append(head, state, meta);
      if (["queued", "declined", "rejected", "failed"].includes(item.state) && !item.cid) {
        li.append(button(t("edit"), () => edit(item)));
      }
      if (item.state === "declined") {
        li.append(button(t("send"), async () => { item.state = "uploaded"; item.error = null; await putItem(item); sync(); }));
      }
      if (item.state !== "sent") {
        li.append(button(t("remove"), async () => { await deleteItem(item.id); render(); }));
      }
      list.append(li);
    }
    const pending = items.filter((i) => ["queued", "uploaded", "sent"].includes(i.state)).length;
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
    if (item.holder) body.append("sender", item.holder);
    for (const p of item.photos) body.append("photos", p.blob, p.name);
    if (item.log) body.append("temperature_log", item.log.blob, item.log.name);
    const response = await fetch("/api/capture/steps", { method: "POST", body: body });
    let answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    if (!response.ok) {
      // said in the page's language; a refused step is never sent again by itself
      const detail = String((answer && answer.detail) || "");
      let reason = t("refused");
      if (response.status === 409 || response.status === 403) reason = t("closed");  // closed, or not this wallet's lot
      else if (response.status === 404) reason = t("noSuchBatch");
      else if (response.status === 400) {
        // a date-order refusal names this step's date, then the lot's record it clashes with
        const dates = detail.includes("out of date order") ? detail.match(/\d{4}-\d{2}-\d{2}/g) : null;
        const bad = problems(item.record);
        if (dates && dates.length >= 2) {
          const day = (iso) => dayFormat.format(new Date(iso + "T00:00:00"));
          reason = t("dateOrder").replace("{this}", day(dates[0])).replace("{lot}", day(dates[1]));
        } else if (bad.length) reason = t("invalid") + " " + bad.map(fieldLabel).join(", ");
      }
      const error = new Error(reason + (document.documentElement.lang === "en" && detail ? " (" + detail + ")" : ""));
      error.rejected = response.status >= 400 && response.status < 500 && response.status !== 429;
      throw error;
    }
    return answer;
  }

  async function wallet() {
    if (!window.ethereum) throw Object.assign(new Error(t("noWallet")), { stop: true });
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    const chain = await window.ethereum.request({ method: "eth_chainId" });
    if (parseInt(chain, 16) !== parseInt(msgs.dataset.chainId, 16)) {
      try {
        await window.ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: msgs.dataset.chainId }] });
      } catch (e) { /* checked again below */ }
      const now = await window.ethereum.request({ method: "eth_chainId" });
      if (parseInt(now, 16) !== parseInt(msgs.dataset.chainId, 16)) throw Object.assign(new Error(t("wrongChain")), { stop: true });
    }
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
      let hash;
      try {
        hash = await window.ethereum.request({
          method: "eth_sendTransaction", params: [{ from: from, to: item.tx.to, data: item.tx.data, value: "0x0" }],
        });
      } catch (e) {
        // the farmer said no (or the wallet failed): ask again only when they press Send
        item.state = "declined"; item.error = e && e.code === 4001 ? null : String((e && e.message) || e);
        await putItem(item);
        return;
      }
      item.txHash = hash; item.state = "sent";
      await putItem(item);
      await render();
    }
    if (item.state === "sent") {
      // the site's own node says whether it is on the chain (not the wallet, which may be elsewhere)
      for (let i = 0; i < 120; i++) {
        const response = await fetch("/api/wallet/receipts/" + item.txHash);
        const receipt = response.ok ? await response.json() : null;
        if (receipt && receipt.status !== "pending") {
          const ok = receipt.status === "success";
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
      let processed = 0;
      for (const item of await allItems()) {
        if (["done", "rejected", "failed", "declined"].includes(item.state)) continue;
        processed += 1;
        try {
          await step(item);
        } catch (err) {
          if (err.stop) {  // no wallet, or on another chain: say so once and wait for the farmer
            item.error = err.message;
            await putItem(item);
            break;
          }
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
      if (processed) say(t("synced"));
    } finally {
      syncing = false;
      await render();
    }
  }

  // ---- the wallet and the lots it may add steps to ----------------------------------------------
  async function showBatches() {
    if (!account) return;
    let batches = await getSetting("batches:" + account.toLowerCase());
    if (navigator.onLine) {
      try {
        const response = await fetch("/api/capture/batches?holder=" + account);
        if (response.ok) {
          batches = (await response.json()).batches;
          await putSetting("batches:" + account.toLowerCase(), batches);
        }
      } catch (e) { /* offline after all: the saved list serves */ }
    }
    batches = batches || [];
    const chosen = select.value;  // a list refreshed while the farmer fills the form keeps their choice
    select.textContent = "";
    const prompt = document.createElement("option");
    prompt.value = "";
    prompt.textContent = batches.length ? t("chooseBatch") : t("noBatches");
    select.append(prompt);
    for (const b of batches) {
      const option = document.createElement("option");
      option.value = String(b.batch_id);
      option.textContent = b.label;
      option.dataset.crop = b.crop || "";
      option.dataset.lot = b.lot || "";
      select.append(option);
    }
    if (chosen && batches.some((b) => String(b.batch_id) === chosen)) select.value = chosen;
    if (!batches.length) say(t("noBatches"), true);
  }
  // the address as wallets show it, on the line kept for it: the form below does not move when it comes
  function showAccount() {
    const el = document.getElementById("account");
    el.textContent = t("connected") + " " + window.tambonShortAddress(account);
    el.title = account;
  }
  async function connect(prompted) {
    if (!window.ethereum) { say(t("noWallet"), true); return; }
    const accounts = await window.ethereum.request({ method: prompted ? "eth_requestAccounts" : "eth_accounts" });
    if (!accounts || !accounts.length) return;
    account = accounts[0];
    showAccount();
    await putSetting("account", account);
    await showBatches();
  }
  document.getElementById("connect").addEventListener("click", () => connect(true).catch((e) => say(e.message, true)));

  window.addEventListener("online", sync);
  window.addEventListener("offline", network);
  document.getElementById("sync").addEventListener("click", sync);
  setInterval(sync, 5000);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/capture/sw.js", { scope: "/capture/" }).catch((err) => say(String(err), true));
  }
  stepForm.elements.date.value = new Date().toISOString().slice(0, 10);
  network();
  loadProfile()
    .then(async () => {
      account = (await getSetting("account")) || null;  // offline: the wallet last connected here
      if (account) showAccount();
      await showBatches();
      await connect(false).catch(() => {});
    })
    .then(render)
    .then(sync);
})();
