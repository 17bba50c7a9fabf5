package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	var l latencies
	for i := 100; i >= 1; i-- { // unsorted on purpose
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := l.percentile(c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p*100, got, c.want)
		}
	}
	if got := (latencies{}).percentile(0.99); got != 0 {
		t.Errorf("empty p99 = %v", got)
	}
	if got := (latencies{7}).percentile(0.99); got != 7 {
		t.Errorf("one-sample p99 = %v", got)
	}
	if l[0] != 100*time.Millisecond {
		t.Error("percentile sorted its input in place")
	}
}

func TestFormatTable(t *testing.T) {
	t.Parallel()
	got := formatTable([]row{
		check("email_list p99", "3.1 ms", "< 50 ms", true),
		check("start → ready", "1.20 s", "< 1 s", false),
		info("RSS, first start", "90.0 MB"),
	})
	want := "" +
		"| measure          | figure  | target  | verdict    |\n" +
		"| ---------------- | ------- | ------- | ---------- |\n" +
		"| email_list p99   | 3.1 ms  | < 50 ms | held       |\n" +
		"| start → ready    | 1.20 s  | < 1 s   | **missed** |\n" +
		"| RSS, first start | 90.0 MB | —       | —          |\n"
	if got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ got, want string }{
		{ms(1234 * time.Microsecond), "1.23 ms"},
		{ms(45600 * time.Microsecond), "45.6 ms"},
		{ms(345 * time.Millisecond), "345 ms"},
		{secs(1500 * time.Millisecond), "1.50 s"},
		{secs(20 * time.Millisecond), "20.0 ms"},
		{mb(146484), "150.0 MB"},
		{count(1000000), "1,000,000"},
		{count(999), "999"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestSpreadBoxes(t *testing.T) {
	t.Parallel()
	boxes := spreadBoxes(1000, 900_000)
	sum := 0
	for _, b := range boxes {
		sum += b.N
	}
	if len(boxes) != 999 || sum != 900_000 || boxes[0].Local != "m0001" {
		t.Fatalf("%d boxes, %d messages, first %q", len(boxes), sum, boxes[0].Local)
	}
}

func TestAppendRecord(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := appendRecord(path, "Run X", "notes", "| a |\n"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(string(b), "\n#### Run X\n\nnotes\n\n| a |\n") {
		t.Fatalf("README = %q, %v", b, err)
	}
}
