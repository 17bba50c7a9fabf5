package doctor

import _ "embed"

// schemaJSON is the JSON Schema of the report (draft 2020-12), pinned by
// the tests: a report that does not validate against it fails them.
//
//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema `aimx doctor --json` output follows.
func Schema() []byte { return append([]byte(nil), schemaJSON...) }
