package dsn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics and that whatever it returns
// keeps its promises: at least one recipient, and every string valid
// UTF-8, free of control characters and within the 1000-byte cap.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed samples: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(toCRLF(b))
	}
	built, err := Build(baseRequest())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(built)
	f.Fuzz(func(t *testing.T, msg []byte) {
		rep, err := Parse(bytes.NewReader(msg), 1<<20)
		if err != nil {
			if rep != nil {
				t.Fatalf("Parse returned a report with error %v", err)
			}
			if len(msg) <= 1<<20 && !errors.Is(err, ErrNotDSN) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(rep.Recipients) == 0 {
			t.Fatal("report without recipients")
		}
		values := []string{rep.ReportingMTA, rep.OriginalEnvelopeID, rep.OriginalMessageID}
		for _, r := range rep.Recipients {
			if r.FinalRecipient == "" {
				t.Fatalf("recipient without address: %+v", r)
			}
			values = append(values, r.FinalRecipient, r.OriginalRecipient, r.Action, r.Status, r.DiagnosticCode, r.RemoteMTA)
		}
		for _, v := range values {
			if len(v) > maxValue || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("unsafe value %q", v)
			}
		}
	})
}
