// Parse an AsyncAPI document with the official parser; exit 1 on any error diagnostic.
// Run by tests/contracts/test_asyncapi.py with NODE_PATH pointing at its npm install.
const fs = require("fs");
const { Parser } = require("@asyncapi/parser");

(async () => {
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(fs.readFileSync(process.argv[2], "utf8"));
  // Severity 0 is an error; 1..3 are warnings, information and hints.
  const errors = diagnostics.filter((d) => d.severity === 0);
  for (const d of diagnostics) {
    console.log(JSON.stringify({ severity: d.severity, code: d.code, path: d.path, message: d.message }));
  }
  process.exit(document !== undefined && errors.length === 0 ? 0 : 1);
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
