// Reads a transport's temperature log on the device, so the farmer sees what it holds before the
// step is queued: the same formats the oracle reads (oracle/coldchain/logs.py): a logger's CSV
// export (comma, semicolon or tab; one time column or Date + Time; °C or °F; ISO, day/month/year or
// epoch times, local Bangkok time unless the cell carries an offset; a BOM) and EPCIS 2.0 sensor
// JSON (or a record.json `temperature_log`). The server reads the file again with the oracle's own
// code: this preview never decides anything.
(function () {
  "use strict";
  const TIME_HEADERS = ["timestamp", "datetime", "date/time", "date time", "date_time", "time", "date", "zeit", "เวลา"];
  const TEMP_HEADERS = ["temperature", "temp", "celsius", "fahrenheit", "°c", "°f", "degc", "degf", "value", "อุณหภูมิ"];
  const FAHRENHEIT_MARKS = ["°f", "(f)", "[f]", "fahrenheit", "degf", "temp_f", "temperature_f", " f)"];
  const BANGKOK = "+07:00";
  const ISO = /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?$/i;
  const DMY = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(AM|PM)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?$/i;
  const NUMBER = /^\s*([+-]?\d+(?:[.,]\d+)?)\s*(?:°?\s*[CFcf])?\s*$/;
  const pad = (n) => String(n).padStart(2, "0");

  function offset(tz) {
    if (!tz) return BANGKOK;
    if (/^(Z|UTC)$/i.test(tz)) return "Z";
    return tz.length === 5 ? tz.slice(0, 3) + ":" + tz.slice(3) : tz;
  }
  function at(y, mo, d, h, mi, s, tz) {
    const ms = Date.parse(`${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s || 0)}${offset(tz)}`);
    return Number.isNaN(ms) ? null : ms;
  }
  function readTime(cell, dayFirst) {
    const text = cell.trim().replace(/^"|"$/g, "");
    let m = ISO.exec(text);
    if (m) return at(m[1], +m[2], +m[3], +m[4], +m[5], m[6], m[7]);
    m = DMY.exec(text);
    if (m) {
      const [d, mo] = dayFirst ? [+m[1], +m[2]] : [+m[2], +m[1]];
      let h = +m[4];
      if (m[7]) h = (h % 12) + (m[7].toUpperCase() === "PM" ? 12 : 0);
      return at(m[3], mo, d, h, +m[5], m[6], m[8]);
    }
    if (/^\d{10}(\d{3})?$/.test(text)) return text.length === 13 ? Number(text) : Number(text) * 1000;
    return null;
  }
  const split = (line, delimiter) => line.split(delimiter).map((c) => c.trim().replace(/^"|"$/g, ""));

  function readCsv(text) {
    const lines = text.split(/\r\n|\r|\n/);
    let start = -1, delimiter = ",", cells = [];
    for (let i = 0; i < Math.min(lines.length, 40); i++) {
      const low = lines[i].toLowerCase();
      if (!TIME_HEADERS.some((h) => low.includes(h)) || !TEMP_HEADERS.some((h) => low.includes(h))) continue;
      delimiter = [";", ",", "\t"].reduce((best, d) => (low.split(d).length > low.split(best).length ? d : best), ";");
      cells = split(low, delimiter);
      if (cells.length >= 2) { start = i; break; }
    }
    if (start < 0) return null;
    const column = (names, exclude) => {
      for (const name of names) {
        const i = cells.findIndex((c, j) => j !== exclude && c.includes(name));
        if (i >= 0) return i;
      }
      return -1;
    };
    const tempCol = column(TEMP_HEADERS, -1);
    const dateCol = cells.findIndex((c, i) => c === "date" && i !== tempCol);
    const clockCol = cells.findIndex((c, i) => c === "time" && i !== tempCol);
    const splitTime = dateCol >= 0 && clockCol >= 0;
    const timeCol = splitTime ? -1 : column(TIME_HEADERS, tempCol);
    if (!splitTime && timeCol < 0) return null;
    const fahrenheit = FAHRENHEIT_MARKS.some((mark) => cells[tempCol].includes(mark));
    const rows = lines.slice(start + 1).filter((l) => l.trim()).map((l) => split(l, delimiter)).filter((r) => r.length >= cells.length);
    const timeOf = (r) => (splitTime ? r[dateCol] + " " + r[clockCol] : r[timeCol]);
    // day/month order from the whole column, as the oracle decides it
    let firstBig = false, secondBig = false;
    for (const r of rows) {
      const m = DMY.exec(timeOf(r).trim());
      if (m) { firstBig = firstBig || +m[1] > 12; secondBig = secondBig || +m[2] > 12; }
    }
    const dayFirst = !(secondBig && !firstBig);
    const points = [];
    for (const r of rows) {
      const t = readTime(timeOf(r), dayFirst);
      const m = NUMBER.exec(r[tempCol]);
      if (t === null || !m) continue;
      let value = Number(m[1].replace(",", "."));
      if (fahrenheit || /F\s*$/i.test(r[tempCol])) value = ((value - 32) * 5) / 9;
      points.push([t, value]);
    }
    return points;
  }

  function celsius(value, uom) {
    const unit = String(uom || "CEL").toUpperCase();
    if (unit === "FAH" || unit === "F" || unit === "°F") return ((value - 32) * 5) / 9;
    if (unit === "KEL" || unit === "K") return value - 273.15;
    return value;
  }
  function readJson(doc) {
    if (doc && Array.isArray(doc.temperature_log)) {  // a record.json
      return doc.temperature_log.map((r) => [readTime(String(r.time), true), Number(r.celsius)]).filter((p) => p[0] !== null);
    }
    const events = Array.isArray(doc) ? doc : (doc && doc.epcisBody && doc.epcisBody.eventList) || (doc && doc.eventList) || [];
    const points = [];
    for (const event of events) {
      for (const element of event.sensorElementList || []) {
        const metaTime = (element.sensorMetadata && element.sensorMetadata.time) || event.eventTime;
        for (const report of element.sensorReport || []) {
          if (!/(^|[:/])temperature$/i.test(String(report.type || ""))) continue;
          const value = report.value !== undefined ? report.value : report.meanValue;
          const t = Date.parse(report.time || metaTime);
          if (typeof value === "number" && !Number.isNaN(t)) points.push([t, celsius(value, report.uom)]);
        }
      }
    }
    return points;
  }

  // {times, celsius} in file order, or null when nothing in the file reads as a temperature log
  function parse(text) {
    const body = text.replace(/^\uFEFF/, "");
    let points;
    if (/^\s*[[{]/.test(body)) {
      try { points = readJson(JSON.parse(body)); } catch (e) { return null; }
    } else {
      points = readCsv(body);
    }
    if (!points || !points.length) return null;
    return { times: points.map((p) => p[0]), celsius: points.map((p) => p[1]) };
  }

  window.TempLog = { parse: parse };
})();
