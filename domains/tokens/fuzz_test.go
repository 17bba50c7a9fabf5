package tokens

import (
	"encoding/json"
	"testing"
)

// FuzzDecode: any tokens.json content either fails to decode or decodes to
// a file that encodes and decodes back to the same tokens.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"tokens":[]}`))
	f.Add([]byte(`{"version":1,"tokens":[{"id":"tok_1","owner":"a","mailboxes":["x@a.test"],"allow_hooks":true,"created_at":"2026-05-01T12:00:00Z","hash":"00"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decode(data, "tokens.json")
		if err != nil {
			return
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decode(again, "tokens.json")
		if err != nil || len(back.Tokens) != len(got.Tokens) {
			t.Fatalf("round trip: %v, %d tokens vs %d", err, len(back.Tokens), len(got.Tokens))
		}
	})
}
