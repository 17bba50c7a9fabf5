package message

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// seeds adds every fixture and testdata message to a fuzz corpus.
func seeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, pattern := range []string{mailFixtures + "/*.eml", dkimFixtures + "/*.eml", "testdata/*.eml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) < 10 {
		f.Fatalf("only %d seeds", len(out))
	}
	return out
}

// FuzzParseMessage: Parse never panics, only fails for header-less input,
// and hands on nothing but valid UTF-8.
func FuzzParseMessage(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\n\n--b\n--b--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw)
		if err != nil {
			if h, _ := parseHeader(raw); len(h) != 0 {
				t.Fatalf("error %v for input with %d header fields", err, len(h))
			}
			return
		}
		strs := append([]string{m.From, m.FromAddress, m.Subject, m.MessageID, m.InReplyTo, m.ListID, m.AutoSubmitted, m.Body},
			append(append(append(m.To, m.Cc...), m.ReplyTo...), m.References...)...)
		for _, a := range m.Attachments {
			strs = append(strs, a.Filename, a.ContentType)
		}
		for _, s := range strs {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
		}
		if id := ThreadID(m); len(id) != 16 {
			t.Fatalf("thread id %q", id)
		}
		if m.DedupKey != DedupKey(raw) {
			t.Fatal("DedupKey differs from Parse's")
		}
	})
}

// FuzzStripAuthResults: only whole fields are removed, the body is never
// touched, and stripping twice changes nothing more.
func FuzzStripAuthResults(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, "mx.aimx.test")
		f.Add(append([]byte("Authentication-Results: mx.aimx.test;\r\n dkim=pass\r\n"), s...), "MX.aimx.test")
	}
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		in := bytes.Clone(raw)
		out := StripAuthResults(raw, id)
		if !bytes.Equal(in, raw) {
			t.Fatal("input modified")
		}
		if len(out) > len(raw) {
			t.Fatal("output grew")
		}
		_, bodyIn := splitHeader(raw)
		_, bodyOut := splitHeader(out)
		if !bytes.Equal(raw[bodyIn:], out[bodyOut:]) {
			t.Fatal("body changed")
		}
		if again := StripAuthResults(out, id); !bytes.Equal(again, out) {
			t.Fatal("second strip removed more")
		}
		h, _ := parseHeader(out)
		for _, f := range h {
			if strings.EqualFold(f.name, "Authentication-Results") && strings.EqualFold(authservIDOf([]byte(f.value)), id) {
				t.Fatalf("field of ours left: %q", f.value)
			}
		}
	})
}

// FuzzCheckData: CheckData agrees with a plain definition of the rules.
func FuzzCheckData(f *testing.F) {
	for _, s := range []string{"a\r\nb\r\n", "a\n.\nb", "a\r.\r\n", "\x00", "\r\n.\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		bad := bytes.IndexByte(b, 0) >= 0 ||
			bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) ||
			bytes.Count(b, []byte("\r")) != bytes.Count(b, []byte("\r\n"))
		if err := CheckData(b); (err != nil) != bad {
			t.Fatalf("CheckData(%q) = %v, want bad=%v", b, err, bad)
		}
	})
}
