// Compile every exported schema with ajv in strict JSON Schema 2020-12 mode (with format
// checking), then validate each case; print one JSON line per case. Exit 1 if a schema
// does not compile. Run by tests/contracts/test_schema_conformance.py with NODE_PATH
// pointing at its npm install.
const fs = require("fs");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");

const { schemas, cases } = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
try {
  for (const schema of schemas) ajv.addSchema(schema);
  for (const schema of schemas) ajv.getSchema(schema.$id);
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
for (const { schema, instance } of cases) {
  const validate = ajv.getSchema(schema);
  const valid = validate(instance);
  console.log(JSON.stringify({ schema, valid, errors: valid ? [] : validate.errors }));
}
