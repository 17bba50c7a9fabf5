package message

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// memSplit is the in-memory splitter the streaming one replaced, kept as
// the reference it must agree with.
func memSplit(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	partFrom := -1
	for pos := 0; pos <= len(body); {
		lineEnd := len(body)
		if i := bytes.IndexByte(body[pos:], '\n'); i >= 0 {
			lineEnd = pos + i + 1
		}
		line := body[pos:lineEnd]
		isDelim, isClose := false, false
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			if bytes.HasPrefix(rest, []byte("--")) {
				isClose = true
				rest = rest[2:]
			}
			isDelim = len(bytes.TrimRight(trimEOL(rest), " \t")) == 0
		}
		if isDelim {
			if partFrom >= 0 {
				lb := pos
				if lb > 0 && body[lb-1] == '\n' {
					lb--
					if lb > 0 && body[lb-1] == '\r' {
						lb--
					}
				}
				parts = append(parts, body[partFrom:max(partFrom, lb)])
			}
			if isClose {
				return parts
			}
			partFrom = lineEnd
		}
		if lineEnd == len(body) {
			break
		}
		pos = lineEnd
	}
	if partFrom >= 0 && partFrom <= len(body) {
		parts = append(parts, body[partFrom:])
	}
	return parts
}

func FuzzSplitMultipart(f *testing.F) {
	f.Add([]byte("pre\r\n--b\r\nA: 1\r\n\r\none\r\n--b  \r\n\r\ntwo\n--b--\r\nepi"), "b")
	f.Add([]byte("--b\n\n--b\r\n--b-\n--b--x\n--b\r\r\n--b\r"), "b")
	f.Add([]byte("--bb\r\n"+strings.Repeat("x", 100)+"\r\n--bb--"), "bb")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		if boundary == "" {
			return
		}
		want := memSplit(body, boundary)
		for _, size := range []int{16, 64, splitBufSize} {
			got, err := splitMultipart(bytes.NewReader(body), boundary, size, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("buf %d: %d parts, want %d", size, len(got), len(want))
			}
			for i, sp := range got {
				if !bytes.Equal(body[sp.off:sp.off+sp.n], want[i]) {
					t.Fatalf("buf %d part %d: %q, want %q", size, i, body[sp.off:sp.off+sp.n], want[i])
				}
			}
		}
	})
}

func FuzzTextReader(f *testing.F) {
	for _, s := range []string{"a\r\nb", "\xff\xfe\r\n", "é\r", "\xe2\x82", "x\r\r\ny", "\xef\xbf\xbd\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\r\n", "\n")
		got, err := io.ReadAll(newTextReader(iotest.OneByteReader(bytes.NewReader(b))))
		if err != nil || string(got) != want {
			t.Fatalf("%q -> %q (%v), want %q", b, got, err, want)
		}
		got, _ = io.ReadAll(newTextReader(bytes.NewReader(b)))
		if string(got) != want {
			t.Fatalf("whole: %q -> %q, want %q", b, got, want)
		}
	})
}

func TestReadHead(t *testing.T) {
	t.Parallel()
	raw := []byte("Not a field\r\n continued\r\nFrom: a@x\r\n folded\r\nSubject: s\r\n\r\nbody\r\n")
	h, err := ReadHead(bytes.NewReader(raw), MaxHeaderBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(h.Bytes()); got != string(raw[:len(raw)-6]) {
		t.Errorf("head %q", got)
	}
	if got := h.Values("from"); len(got) != 1 || got[0] != "a@x folded" {
		t.Errorf("From values %q", got)
	}
	// DKIM sees only the fields this parse found.
	if got, want := string(h.DKIMView()), "From: a@x\r\n folded\r\nSubject: s\r\n\r\n"; got != want {
		t.Errorf("DKIM view %q, want %q", got, want)
	}
	long := append([]byte("X: "+strings.Repeat("y", 100)+"\r\n"), raw...)
	if _, err := ReadHead(bytes.NewReader(long), 64); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("long header: %v", err)
	}
	allHeader := []byte("A: b\r\nC: d")
	h, err = ReadHead(bytes.NewReader(allHeader), MaxHeaderBytes)
	if err != nil || h.Len() != int64(len(allHeader)) || h.Fields() != 2 {
		t.Errorf("all-header message: %v %d", err, h.Len())
	}
}

// FuzzParseStreaming: parsing with the smallest split buffer gives what
// Parse gives.
func FuzzParseStreaming(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, err := Parse(raw)
		if err != nil {
			return
		}
		head := HeadOf(raw)
		w := walker{bufSize: 16}
		if err := w.walk(head.h, io.NewSectionReader(bytes.NewReader(raw), head.Len(), int64(len(raw))-head.Len()), 0, ""); err != nil {
			t.Fatal(err)
		}
		got := &Message{}
		if err := got.fill(w.leaves, MemScratch{}); err != nil {
			t.Fatal(err)
		}
		if len(got.Attachments) != len(want.Attachments) {
			t.Fatalf("%d attachments, want %d", len(got.Attachments), len(want.Attachments))
		}
		var body []byte
		if got.BodySource != nil {
			body, _ = readAllSource(got.BodySource)
		}
		if string(body) != want.Body {
			t.Fatalf("body %q, want %q", body, want.Body)
		}
	})
}
