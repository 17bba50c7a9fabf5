package storage

import (
	"context"
	"errors"
	"testing"
)

// An unmigrated v1 data dir is read as it is, and nothing is written
// (book/upgrade.md: read-only commands never migrate).
func TestUpgradeLegacyViewCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := copyRustData(t, "v1")
	before := snapshot(t, data)
	v, err := OpenLegacyReadOnly(data, "agent.example.com")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	a := "agent.example.com"
	want := map[MailboxRef]Counts{
		{a, "support"}:                 {Total: 5, Unread: 4, Sent: 3},
		{a, "catchall"}:                {Total: 2, Unread: 2},
		{a, "billing"}:                 {Total: 1, Unread: 1},
		{a, "nobody"}:                  {},
		{"other.example.net", "sales"}: {},
	}
	for ref, w := range want {
		c, err := v.Counts(ctx, ref)
		if err != nil || c != w {
			t.Errorf("%s: %+v %v, want %+v", ref, c, err, w)
		}
	}
	if _, err := v.Counts(ctx, MailboxRef{a, "../x"}); !errors.Is(err, ErrInvalidMailbox) {
		t.Errorf("traversal ref: %v", err)
	}
	if !equalSnap(before, snapshot(t, data)) {
		t.Error("the legacy view wrote something")
	}
	// A data dir in the current layout is not a legacy one.
	if _, err := OpenLegacyReadOnly(t.TempDir(), a); err == nil {
		t.Error("OpenLegacyReadOnly accepted a new data dir")
	}
}
