package domains

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader. It must never panic, and
// whatever it accepts must encode, load back to an equal config, and encode
// to the same bytes again.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.toml")
	goldens, _ := filepath.Glob("testdata/*.golden")
	seeds = append(seeds, goldens...)
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	example, err := bookExample()
	if err == nil {
		f.Add(example)
	}
	f.Add([]byte(base + "[domain.\"a.com\"]\n" + mbox("*@a.com") + mbox("x@b.com", `trusted_senders = []`) + hook("x@b.com", echoHook)))
	f.Add([]byte("domain = \"a.com\"\n[mailboxes.catchall]\nowner = \"u\"\n[mailboxes.x]\nowner = \"u\"\nenable_ipv6 = true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.toml", LoadOptions{LookupOwner: stubOwners})
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded config does not validate: %v", err)
		}
		out := c.Encode()
		back, err := Parse(out, "rewrite.toml", LoadOptions{LookupOwner: stubOwners})
		if err != nil {
			t.Fatalf("rewrite does not load: %v\n%s", err, out)
		}
		if !Equal(back, c) {
			t.Fatalf("rewrite loads as a different config:\n%s", out)
		}
		if again := back.Encode(); !bytes.Equal(again, out) {
			t.Fatalf("rewrite is not stable:\n%s\n---\n%s", out, again)
		}
	})
}
