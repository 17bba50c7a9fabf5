package storage

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSlug(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Can't log in to the dashboard", "can-t-log-in-to-the"},
		{"Re: Ticket #4821: export fails", "re-ticket-4821-expor"},
		{"Status update", "status-update"},
		{"", "no-subject"},
		{"   ", "no-subject"},
		{"!!!", "no-subject"},
		{"Grüße aus München – Angebot", "gr-e-aus-m-nchen-ang"},
		{"Application: backend engineer", "application-backend"}, // cut at 20 lands on '-', re-trimmed
		{"--Hello--World--", "hello-world"},
		{"ABC123", "abc123"},
		{"a\tb\nc", "a-b-c"},
		{strings.Repeat("x", 50), strings.Repeat("x", 20)},
	}
	for _, tt := range tests {
		if got := Slug(tt.in); got != tt.want {
			t.Errorf("Slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBaseStemUTC(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 9, 14, 10, 15, 2, 999, time.FixedZone("CEST", 2*3600))
	if got := BaseStem(at, "Hi"); got != "2026-09-14-081502-hi" {
		t.Errorf("BaseStem = %q", got)
	}
	if tm, ok := stemTime("2026-09-14-081502-hi"); !ok || !tm.Equal(time.Date(2026, 9, 14, 8, 15, 2, 0, time.UTC)) {
		t.Errorf("stemTime = %v %v", tm, ok)
	}
	if _, ok := stemTime("garbage"); ok {
		t.Error("stemTime(garbage) ok")
	}
}

func TestSanitizeAttachmentName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 150) + ".pdf" // 300 bytes + ext
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"health page.png", "health page.png"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\bob\evil.exe`, "evil.exe"},
		{"dir/sub/", "sub"},
		{"", "attachment"},
		{".", "attachment"},
		{"..", "attachment"},
		{"/", "attachment"},
		{".bashrc", "bashrc"},
		{"a\x00b\x1fc\x7f.txt", "abc.txt"},
		{"invoice\u202Efdp.exe", "invoicefdp.exe"}, // RLO cannot disguise the extension
		{"zero\u200Bwidth\uFEFF.txt", "zerowidth.txt"},
		{"\u2066iso\u2069.txt", "iso.txt"},
		{"  spaced  ", "spaced"},
		{"bad\xffutf8.txt", "badutf8.txt"},
	}
	for _, tt := range tests {
		if got := SanitizeAttachmentName(tt.in); got != tt.want {
			t.Errorf("SanitizeAttachmentName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	got := SanitizeAttachmentName(long)
	if len(got) > 200 || !utf8.ValidString(got) || !strings.HasSuffix(got, ".pdf") {
		t.Errorf("long name: %d bytes, valid=%v, %q", len(got), utf8.ValidString(got), got[len(got)-8:])
	}
	noExt := SanitizeAttachmentName(strings.Repeat("ü", 150))
	if len(noExt) > 200 || !utf8.ValidString(noExt) {
		t.Errorf("long name without ext: %d bytes", len(noExt))
	}
}

func TestAttachmentNamerDedup(t *testing.T) {
	t.Parallel()
	n := NewAttachmentNamer("2026-10-07-144513-x")
	in := []string{"a.txt", "a.txt", "dir/a.txt", "2026-10-07-144513-x.md", "2026-10-07-144513-x.eml", "", "", "noext", "noext",
		strings.Repeat("z", 200) + ".txt", strings.Repeat("z", 200) + ".txt"}
	want := []string{"a.txt", "a-1.txt", "a-2.txt", "2026-10-07-144513-x-1.md", "2026-10-07-144513-x-1.eml", "attachment", "attachment-1", "noext", "noext-1"}
	seen := map[string]bool{}
	for i, raw := range in {
		got := n.Name(raw)
		if i < len(want) && got != want[i] {
			t.Errorf("name(%q) = %q, want %q", raw, got, want[i])
		}
		if len(got) > 200 || seen[got] {
			t.Errorf("name(%q) = %q: too long or duplicate", raw, got)
		}
		seen[got] = true
	}
}
