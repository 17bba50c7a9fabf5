package storage

import (
	"context"
	"testing"
)

func TestListByLabel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	ids := fillMailbox(t, s, 6)
	for _, id := range []string{ids[1], ids[4]} {
		if _, err := s.SetLabels(ctx, testRef, Inbox, id, []string{"Invoices"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.List(ctx, ListQuery{Mailbox: testRef, Label: "invoices", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 2 || len(page.Messages) != 2 || page.Messages[0].ID != ids[4] || page.Messages[1].ID != ids[1] {
		t.Fatalf("by label: total %d, %+v", page.Total, page.Messages)
	}
	// With another filter, and paged.
	page, err = s.List(ctx, ListQuery{Mailbox: testRef, Label: "INVOICES", Unread: true, Limit: 10})
	if err != nil || page.Total != 1 || page.Messages[0].ID != ids[1] {
		t.Fatalf("label and unread: %+v %v", page, err)
	}
	page, err = s.List(ctx, ListQuery{Mailbox: testRef, Label: "none-such", Limit: 10})
	if err != nil || page.Total != 0 {
		t.Fatalf("unknown label: %+v %v", page, err)
	}
	if _, err := s.List(ctx, ListQuery{Mailbox: testRef, Label: "bad\nlabel"}); err == nil {
		t.Fatal("a bad label was accepted")
	}
}
