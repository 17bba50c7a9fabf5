package admin

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/operations"
)

func TestDraftsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	ctx := context.Background()
	_, err := f.client.ListDrafts(ctx)
	wantCode(t, "no queue", err, CodeInternal, 500)

	q, err := outbound.OpenFileQueue(filepath.Join(t.TempDir(), "q"), outbound.FileQueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	f.admin.Drafts = &operations.Drafts{Store: f.store, Queue: q}
	held, err := q.Enqueue(ctx, outbound.Submission{From: "support@" + dom, Mailbox: "support@" + dom, SentID: "s1",
		Recipients: []string{"x@example.org"}, Data: []byte("x"), Held: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.client.ListDrafts(ctx)
	if err != nil || len(list.Drafts) != 1 || list.Drafts[0].ID != held.ID || list.Drafts[0].Recipients[0] != "x@example.org" {
		t.Fatalf("list %+v %v", list, err)
	}
	_, err = f.client.ApproveDraft(ctx, "nope")
	wantCode(t, "unknown draft", err, CodeNotFound, 404)
	if _, err := f.client.ApproveDraft(ctx, held.ID); err != nil {
		t.Fatal(err)
	}
	if it, _ := q.Get(ctx, held.ID); it.Held {
		t.Fatal("approval did not release the send")
	}
	_, err = f.client.RejectDraft(ctx, held.ID)
	wantCode(t, "no longer a draft", err, CodeNotFound, 404)

	g := newFixture(t, func(uint32) bool { return false })
	g.admin.Drafts = f.admin.Drafts
	_, err = g.client.ApproveDraft(ctx, held.ID)
	wantCode(t, "approve as non-operator", err, CodeForbidden, 403)
}
