// GS1's digital-link.js judges Digital Link URIs: reads a JSON array of URIs on stdin, prints a JSON
// array of {uri, valid} (valid = the library parses it and its grammar check passes).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const { DigitalLink } = require("digital-link.js");

const uris = JSON.parse(readFileSync(0, "utf8"));
const results = uris.map((uri) => {
  try {
    return { uri, valid: DigitalLink(uri).isValid() };
  } catch (error) {
    return { uri, valid: false, error: String(error) };
  }
});
process.stdout.write(JSON.stringify(results));
