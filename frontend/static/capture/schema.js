// A JSON Schema (draft 2020-12) validator for the keywords the record schema uses, so the capture page
// checks a record offline with the same schema file the server validates against. It interprets the
// schema (no code generation: the site's CSP forbids eval). Errors carry the JSON path and keyword,
// and `missing` lists absent required properties the way the server names them (a.b.c).
(function () {
  "use strict";

  const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
  const DATE_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

  function typeOf(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "array";
    if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
    return typeof value;
  }
  function hasType(value, type) {
    const actual = typeOf(value);
    return actual === type || (type === "number" && actual === "integer");
  }
  function equal(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }
  function validDate(text) {
    if (!DATE.test(text)) return false;
    const [y, m, d] = text.split("-").map(Number);
    const day = new Date(Date.UTC(y, m - 1, d));
    return day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
  }

  function resolve(root, ref) {
    if (!ref.startsWith("#/")) throw new Error("unsupported $ref " + ref);
    return ref.slice(2).split("/").reduce((node, key) => node[key.replace(/~1/g, "/").replace(/~0/g, "~")], root);
  }

  function check(root, schema, value, path, errors) {
    if (schema === true || schema === undefined) return;
    if (schema === false) { errors.push({ path, keyword: "false", message: "not allowed" }); return; }
    const add = (keyword, message, extra) => errors.push(Object.assign({ path, keyword, message }, extra || {}));
    if (schema.$ref) check(root, resolve(root, schema.$ref), value, path, errors);
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      if (!types.some((t) => hasType(value, t))) { add("type", "must be " + types.join(" or ")); return; }
    }
    if (schema.const !== undefined && !equal(value, schema.const)) add("const", "must be " + JSON.stringify(schema.const));
    if (schema.enum && !schema.enum.some((e) => equal(e, value))) add("enum", "must be one of " + schema.enum.join(", "));
    if (typeof value === "string") {
      const length = Array.from(value).length;
      if (schema.minLength !== undefined && length < schema.minLength) add("minLength", "too short");
      if (schema.maxLength !== undefined && length > schema.maxLength) add("maxLength", "too long");
      if (schema.pattern && !new RegExp(schema.pattern, "u").test(value)) add("pattern", "bad format");
      if (schema.format === "date" && !validDate(value)) add("format", "not a date");
      if (schema.format === "date-time" && !(DATE_TIME.test(value) && validDate(value.slice(0, 10)))) add("format", "not a date and time");
    }
    if (typeof value === "number") {
      if (schema.minimum !== undefined && value < schema.minimum) add("minimum", "too small");
      if (schema.maximum !== undefined && value > schema.maximum) add("maximum", "too large");
      if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) add("exclusiveMinimum", "too small");
    }
    if (Array.isArray(value)) {
      if (schema.minItems !== undefined && value.length < schema.minItems) add("minItems", "too few");
      if (schema.maxItems !== undefined && value.length > schema.maxItems) add("maxItems", "too many");
      const prefix = schema.prefixItems || [];
      value.forEach((item, i) => {
        if (i < prefix.length) check(root, prefix[i], item, path.concat(i), errors);
        else if (schema.items !== undefined) check(root, schema.items, item, path.concat(i), errors);
      });
    }
    if (typeOf(value) === "object") {
      for (const name of schema.required || []) {
        if (!(name in value)) errors.push({ path: path.concat(name), keyword: "required", message: "missing", missing: true });
      }
      const props = schema.properties || {};
      for (const [name, item] of Object.entries(value)) {
        if (name in props) check(root, props[name], item, path.concat(name), errors);
        else if (schema.additionalProperties !== undefined && schema.additionalProperties !== true) {
          if (schema.additionalProperties === false) add("additionalProperties", "unknown field " + name);
          else check(root, schema.additionalProperties, item, path.concat(name), errors);
        }
      }
    }
    for (const sub of schema.allOf || []) check(root, sub, value, path, errors);
    if (schema.anyOf) {
      const tries = schema.anyOf.map((sub) => { const e = []; check(root, sub, value, path, e); return e; });
      if (!tries.some((e) => e.length === 0)) tries.sort((a, b) => a.length - b.length)[0].forEach((e) => errors.push(e));
    }
    if (schema.oneOf) {
      const tries = schema.oneOf.map((sub) => { const e = []; check(root, sub, value, path, e); return e; });
      const passing = tries.filter((e) => e.length === 0).length;
      if (passing === 0) tries.sort((a, b) => a.length - b.length)[0].forEach((e) => errors.push(e));
      else if (passing > 1) add("oneOf", "matches more than one alternative");
    }
    if (schema.if !== undefined) {
      const probe = [];
      check(root, schema.if, value, path, probe);
      if (probe.length === 0 && schema.then !== undefined) check(root, schema.then, value, path, errors);
      if (probe.length !== 0 && schema.else !== undefined) check(root, schema.else, value, path, errors);
    }
  }

  window.RecordSchema = {
    // [{path: [...], keyword, message, missing?}] — empty when the record is valid
    validate(schema, value) {
      const errors = [];
      check(schema, schema, value, [], errors);
      const seen = new Set();
      return errors.filter((e) => {
        const key = e.path.join(".") + "|" + e.keyword;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    },
  };
})();
