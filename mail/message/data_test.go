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
