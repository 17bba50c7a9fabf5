package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func TestSetDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	fm := inboundFM("Report")
	fm.Read = false
	fm.OutboundFormat = "markdown"
	fm.DeliveryStatus = "queued"
	fm.Recipients = []Recipient{{Address: "a@x.test", Status: "queued"}, {Address: "b@y.test", Status: "queued"}}
	fm.Extra = []Field{{Key: "x_custom", Value: "kept"}}
	sent := putMsg(t, s, PutRequest{Folder: Sent, At: t0, Frontmatter: fm, Body: "line one\r\nline two\n"})
	inbox := putMsg(t, s, PutRequest{At: t0, Frontmatter: inboundFM("In"), Body: "b"})

	paths, err := s.Paths(testRef, Sent, sent.ID)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(paths.MD)
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	rc := []Recipient{
		{Address: "a@x.test", Status: "delivered", Detail: "250 2.0.0 ok", Attempts: 1, TLS: "verified", UpdatedAt: at},
		{Address: "b@y.test", Status: "deferred", Detail: "451 4.3.0 later", Attempts: 1, TLS: "none", UpdatedAt: at},
	}
	var seen []Recipient
	got, err := s.SetDelivery(ctx, testRef, sent.ID, func(cur []Recipient) (string, []Recipient) {
		seen = cur
		return "deferred", rc
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0].Status != "queued" {
		t.Fatalf("update saw %+v", seen)
	}
	if got.DeliveryStatus != "deferred" || len(got.Recipients) != 2 {
		t.Fatalf("returned %+v", got)
	}
	m, err := s.Read(ctx, testRef, Sent, sent.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Frontmatter.DeliveryStatus != "deferred" || m.Frontmatter.Recipients[0].TLS != "verified" ||
		m.Frontmatter.Recipients[1].Detail != "451 4.3.0 later" || !m.Frontmatter.Recipients[0].UpdatedAt.Equal(at) {
		t.Fatalf("read back %+v", m.Frontmatter)
	}
	if len(m.Frontmatter.Extra) != 1 || m.Frontmatter.Extra[0].Key != "x_custom" {
		t.Fatalf("unknown key lost: %+v", m.Frontmatter.Extra)
	}
	after, err := os.ReadFile(paths.MD)
	if err != nil {
		t.Fatal(err)
	}
	// The body is kept byte for byte.
	bodyOf := func(b []byte) []byte { return b[bytes.LastIndex(b, []byte("+++\n"))+4:] }
	if !bytes.Equal(bodyOf(before), bodyOf(after)) {
		t.Fatalf("body changed:\n%q\n%q", bodyOf(before), bodyOf(after))
	}
	// The listing sees the new state at once.
	page, err := s.List(ctx, ListQuery{Mailbox: testRef, Folder: Sent, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || page.Messages[0].Frontmatter.DeliveryStatus != "deferred" {
		t.Fatalf("list: %+v", page.Messages)
	}

	set := func(cur []Recipient) (string, []Recipient) { return "failed", rc }
	if _, err := s.SetDelivery(ctx, testRef, inbox.ID, set); err == nil {
		t.Fatal("an inbox message took a delivery state")
	}
	if _, err := s.SetDelivery(ctx, testRef, "2026-01-01-000000-nope", set); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := s.SetDelivery(ctx, testRef, "../../etc/passwd", set); err == nil {
		t.Fatal("a traversal id was accepted")
	}
}
