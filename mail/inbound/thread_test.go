package inbound

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/mail/message"
	"github.com/aimx-dev/aimx/storage"
)

// reply is a message answering parent, with References only when refs.
func reply(msgID, parent string, refs bool, subject string) []byte {
	var b strings.Builder
	b.WriteString("From: Pat <pat@example.org>\r\nTo: support@agent.example.com\r\n")
	b.WriteString("Subject: " + subject + "\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n")
	b.WriteString("Message-ID: <" + msgID + ">\r\nIn-Reply-To: <" + parent + ">\r\n")
	if refs {
		b.WriteString("References: <root@example.org> <" + parent + ">\r\n")
	}
	b.WriteString("\r\nYes.\r\n")
	return []byte(b.String())
}

// A reply that sets only In-Reply-To joins the thread of its parent when
// the parent is stored in the mailbox (inbox or sent); otherwise, and
// with References, the thread is message.ThreadID's.
func TestReplyJoinsParentThread(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newDeliverEnv(t, envOpts{})
	deliver := func(raw []byte) string {
		t.Helper()
		out, err := e.del.Deliver(ctx, Envelope{RemoteIP: netip.MustParseAddr("192.0.2.7"), Helo: "h.example.org",
			MailFrom: "pat@example.org", Recipients: []string{"support@agent.example.com"}, ID: "t"}, raw)
		if err != nil || len(out.Mailboxes) != 1 || out.Mailboxes[0].Err != nil {
			t.Fatalf("deliver: %+v %v", out, err)
		}
		m, err := e.store.Read(ctx, ref("support@agent.example.com"), storage.Inbox, out.Mailboxes[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return m.Frontmatter.ThreadID
	}
	// The parent in the inbox started with References, so its thread is
	// not the hash of its own id.
	parentThread := deliver(reply("kickoff@example.org", "earlier@example.org", true, "Project kickoff"))
	if got := deliver(reply("re1@example.org", "kickoff@example.org", false, "RE: Project kickoff")); got != parentThread {
		t.Errorf("reply to an inbox parent: thread %s, want %s", got, parentThread)
	}
	// A sent copy as the parent.
	_, err := e.files.Put(ctx, storage.PutRequest{Mailbox: ref("support@agent.example.com"), Folder: storage.Sent,
		Frontmatter: storage.Frontmatter{MessageID: "sent1@agent.example.com", ThreadID: "00000000feedbeef", Subject: "Offer", To: []string{}}, Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got := deliver(reply("re2@example.org", "sent1@agent.example.com", false, "Re: Offer")); got != "00000000feedbeef" {
		t.Errorf("reply to a sent copy: thread %s", got)
	}
	unknown := &message.Message{MessageID: "re3@example.org", InReplyTo: "nowhere@example.org"}
	if got := deliver(reply("re3@example.org", "nowhere@example.org", false, "Re: ?")); got != message.ThreadID(unknown) {
		t.Errorf("reply to a parent not stored: thread %s, want %s", got, message.ThreadID(unknown))
	}
	withRefs := &message.Message{References: []string{"root@example.org"}}
	if got := deliver(reply("re4@example.org", "sent1@agent.example.com", true, "Re: Offer")); got != message.ThreadID(withRefs) {
		t.Errorf("a reply with References: thread %s, want %s", got, message.ThreadID(withRefs))
	}
}

// slowList is a store whose listings wait for their context to end, as a
// large folder's first index load would.
type slowList struct{ storage.MessageStore }

func (s slowList) List(ctx context.Context, q storage.ListQuery) (*storage.ListResult, error) {
	if q.MessageID == "" {
		return s.MessageStore.List(ctx, q)
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// The parent lookup gives up after threadLookupTimeout: the reply is
// stored in the thread its headers name, and the transaction goes on.
func TestReplyParentLookupBounded(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{wrap: func(s storage.MessageStore) storage.MessageStore { return slowList{s} }})
	start := time.Now()
	out, err := e.del.Deliver(context.Background(), Envelope{RemoteIP: netip.MustParseAddr("192.0.2.7"), Helo: "h.example.org",
		MailFrom: "pat@example.org", Recipients: []string{"support@agent.example.com"}, ID: "t"}, reply("re@example.org", "p@example.org", false, "Re: x"))
	if err != nil || len(out.Mailboxes) != 1 || out.Mailboxes[0].Err != nil {
		t.Fatalf("deliver: %+v %v", out, err)
	}
	if d := time.Since(start); d > threadLookupTimeout+5*time.Second {
		t.Fatalf("took %v", d)
	}
	m, err := e.files.Read(context.Background(), ref("support@agent.example.com"), storage.Inbox, out.Mailboxes[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := message.ThreadID(&message.Message{InReplyTo: "p@example.org"}); m.Frontmatter.ThreadID != want {
		t.Fatalf("thread %s, want %s", m.Frontmatter.ThreadID, want)
	}
}
