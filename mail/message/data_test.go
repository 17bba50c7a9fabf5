package message

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckData(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		in     string
		want   DataProblem // 0: no error
		offset int
	}{
		{"good", "Subject: x\r\n\r\nline\r\n.dot line unstuffed\r\n", 0, 0},
		{"empty", "", 0, 0},
		{"no final CRLF (BDAT)", "Subject: x\r\n\r\nline", 0, 0},
		{"CRLF dot CRLF is a dot line (BDAT)", "a\r\n.\r\nb\r\n", 0, 0},
		{"bare LF", "a\r\nb\nc\r\n", ProblemBareLF, 4},
		{"leading bare LF", "\nabc", ProblemBareLF, 0},
		{"bare CR", "ab\rc\r\n", ProblemBareCR, 2},
		{"trailing bare CR", "abc\r", ProblemBareCR, 3},
		{"NUL", "a\x00\r\n", ProblemNUL, 1},
		{`\n.\n`, "a\n.\nb", ProblemSmugglingLF, 1},
		{`\n.\r\n`, "a\n.\r\nb", ProblemSmugglingLFCRLF, 1},
		{`\r.\r\n`, "a\r.\r\nb", ProblemSmugglingCR, 1},
		{`\r\n.\n reports the bare LF after the dot`, "a\r\n.\nb", ProblemBareLF, 4},
		{"first problem wins", "ok\r\nx\x00y\nz", ProblemNUL, 5},
	}
	for _, tc := range cases {
		err := CheckData([]byte(tc.in))
		if tc.want == 0 {
			if err != nil {
				t.Errorf("%s: %v, want nil", tc.name, err)
			}
			continue
		}
		var de *DataError
		if !errors.As(err, &de) || de.Problem != tc.want || de.Offset != tc.offset {
			t.Errorf("%s: %v, want %s at %d", tc.name, err, tc.want, tc.offset)
			continue
		}
		code, enh, text := de.Reply()
		if code/100 != 5 || enh[0] != 5 || !strings.Contains(text, tc.want.String()) {
			t.Errorf("%s: reply %d %v %q", tc.name, code, enh, text)
		}
	}
}

func BenchmarkCheckData(b *testing.B) {
	line := strings.Repeat("x", 76) + "\r\n"
	msg := []byte(strings.Repeat(line, (25<<20)/len(line)))
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := CheckData(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDataChecker: the streaming checker gives CheckData's verdict however
// the bytes are split into writes.
func FuzzDataChecker(f *testing.F) {
	for _, s := range []string{"a\r\nb\r\n", "a\n.\nb", "a\r.\r\n", "\x00", "\r\n.\r\n", "abc\r", "a\r\n.\nb"} {
		f.Add([]byte(s), uint8(1), uint8(2))
	}
	f.Fuzz(func(t *testing.T, b []byte, s1, s2 uint8) {
		want := CheckData(b)
		var c DataChecker
		rest := b
		for i := 0; len(rest) > 0; i++ {
			n := int(s1)
			if i%2 == 1 {
				n = int(s2)
			}
			n = max(1, min(n%7+1, len(rest)))
			_, _ = c.Write(rest[:n])
			rest = rest[n:]
		}
		got := c.Err()
		if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
			t.Fatalf("streamed %v, CheckData %v for %q", got, want, b)
		}
	})
}
