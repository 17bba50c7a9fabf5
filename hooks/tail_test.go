package hooks

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// naiveTail is the obvious model: keep everything, slice the end.
func naiveTail(writes [][]byte, size int) []byte {
	all := bytes.Join(writes, nil)
	return all[max(0, len(all)-size):]
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	b := func(s string) []byte { return []byte(s) }
	tests := []struct {
		name   string
		size   int
		writes [][]byte
	}{
		{"empty", 4, nil},
		{"under", 4, [][]byte{b("ab")}},
		{"exact", 4, [][]byte{b("abcd")}},
		{"one big write", 4, [][]byte{b("abcdefghij")}},
		{"wraps", 4, [][]byte{b("abc"), b("def")}},
		{"wraps twice", 4, [][]byte{b("abc"), b("def"), b("ghi")}},
		{"fills exactly then more", 4, [][]byte{b("ab"), b("cd"), b("e")}},
		{"big write after wrap", 4, [][]byte{b("abc"), b("defghijk")}},
		{"empty writes", 4, [][]byte{b(""), b("a"), b(""), b("bcdef"), b("")}},
		{"byte at a time", 3, [][]byte{b("a"), b("b"), b("c"), b("d"), b("e")}},
		{"zero size", 0, [][]byte{b("abc")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTailBuffer(tc.size)
			var total int64
			for _, w := range tc.writes {
				n, err := tb.Write(w)
				if n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				total += int64(len(w))
			}
			if got, want := tb.Bytes(), naiveTail(tc.writes, tc.size); !bytes.Equal(got, want) {
				t.Errorf("Bytes = %q, want %q", got, want)
			}
			if tb.Total() != total {
				t.Errorf("Total = %d, want %d", tb.Total(), total)
			}
		})
	}
}

func FuzzTailBuffer(f *testing.F) {
	f.Add([]byte("hello world"), uint8(4), uint8(3))
	f.Add([]byte("abcdefghijklmnopqrstuvwxyz"), uint8(7), uint8(5))
	f.Add([]byte{}, uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, size, chunk uint8) {
		if chunk == 0 {
			chunk = 1
		}
		tb := newTailBuffer(int(size))
		var writes [][]byte
		for i := 0; i < len(data); i += int(chunk) {
			w := data[i:min(len(data), i+int(chunk))]
			writes = append(writes, w)
			_, _ = tb.Write(w)
		}
		if got, want := tb.Bytes(), naiveTail(writes, int(size)); !bytes.Equal(got, want) {
			t.Fatalf("Bytes = %q, want %q", got, want)
		}
	})
}

// TestFloodKeepsOnlyTheTail runs alone (not parallel), so the allocation
// figure is this run's. 10 MiB on each stream would cost 20+ MiB if any
// layer buffered it; the ring keeps 2 × 64 KiB.
func TestFloodKeepsOnlyTheTail(t *testing.T) {
	const n = 10 << 20
	r, _ := testRunner(time.Second)
	run := baseRun(t, helperArgv(t, "flood", strconv.Itoa(n)))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := r.Execute(context.Background(), run)
	runtime.ReadMemStats(&after)

	if !res.OK() {
		t.Fatalf("flood run failed: exit %d err %v stderr %q", res.ExitCode, res.Err, head(res.Stderr))
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB while the hook wrote %d MiB to each stream", allocated>>10, n>>20)
	if allocated > 5<<20 {
		t.Errorf("runner allocated %d bytes for a 10 MiB flood, want well under 5 MiB", allocated)
	}
	check := func(name string, got []byte, total, wantTotal int64, salt byte) {
		if total != wantTotal {
			t.Errorf("%s: counted %d bytes, want %d", name, total, wantTotal)
		}
		if len(got) != TailBytes {
			t.Fatalf("%s: kept %d bytes, want %d", name, len(got), TailBytes)
		}
		start := wantTotal - TailBytes
		for i, c := range got {
			if want := floodByte(start+int64(i), salt); c != want {
				t.Fatalf("%s: tail byte %d = %#x, want %#x (not the last 64 KiB)", name, i, c, want)
			}
		}
	}
	check("stdout", res.Stdout, res.StdoutBytes, n, 0)
	check("stderr", res.Stderr, res.StderrBytes, n+13, 0x5a)
}
