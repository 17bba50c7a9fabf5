package pgmessages

import (
	"testing"

	"github.com/aimx-dev/aimx/storage"
)

func TestBumpStem(t *testing.T) {
	base := "2026-12-06-150000-hello"
	for _, c := range []struct{ in, want string }{
		{base, base + "-2"},
		{base + "-2", base + "-3"},
		{base + "-41", base + "-42"},
		{base + "-x", base + "-2"},
		{base + "-1", base + "-2"},
	} {
		if got := bumpStem(base, c.in); got != c.want {
			t.Errorf("bumpStem(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStemClaims(t *testing.T) {
	c := stemClaims{held: map[stemKey]bool{}}
	a := stemKey{mbox: 1, folder: storage.Inbox, id: "x"}
	b := stemKey{mbox: 1, folder: storage.Sent, id: "x"}
	if !c.claim(a) || c.claim(a) {
		t.Fatal("a key claimed twice, or not at all")
	}
	if !c.claim(b) {
		t.Fatal("the same id in another folder is another key")
	}
	c.release([]stemKey{a})
	if !c.claim(a) {
		t.Fatal("a released key cannot be claimed again")
	}
}

func TestStemStartAfterTried(t *testing.T) {
	c := stemClaims{held: map[stemKey]bool{}}
	base := "2026-12-06-150000-hello"
	if got := c.start(1, storage.Inbox, base); got != base {
		t.Fatalf("first start = %q, want the base", got)
	}
	c.tried(1, storage.Inbox, base, base)
	if got := c.start(1, storage.Inbox, base); got != base+"-2" {
		t.Fatalf("start after the base = %q", got)
	}
	c.tried(1, storage.Inbox, base, base+"-7")
	c.tried(1, storage.Inbox, base, base+"-3") // an older try does not go back
	if got := c.start(1, storage.Inbox, base); got != base+"-8" {
		t.Fatalf("start after -7 = %q", got)
	}
	if got := c.start(1, storage.Sent, base); got != base {
		t.Fatalf("another folder starts at %q, want the base", got)
	}
}
