package outbound

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/mail/message"
)

func TestReply(t *testing.T) {
	t.Parallel()
	base := Original{
		MessageID:  "<orig@b.test>",
		References: []string{"root@b.test", "mid@b.test"},
		From:       "Bob Example <bob@b.test>",
		To:         []string{"Zoë <zoe@a.test>", "other@c.test"},
		Cc:         []string{`"Second, Recipient" <second@b.test>`, "ZOE@a.test", "other@c.test"},
		Subject:    "Quarterly report",
	}
	cases := []struct {
		name    string
		edit    func(o *Original)
		all     bool
		to, cc  string
		subject string
		inReply string
		refs    string
		wantErr error
	}{
		{name: "to From", to: "[Bob Example <bob@b.test>]", cc: "[]", subject: "Re: Quarterly report",
			inReply: "orig@b.test", refs: "[root@b.test mid@b.test orig@b.test]"},
		{name: "to Reply-To", edit: func(o *Original) { o.ReplyTo = []string{"list@b.test", "Bob <bob@b.test>"} },
			to: "[list@b.test Bob <bob@b.test>]", cc: "[]"},
		{name: "reply all without self, no duplicates", all: true,
			to: "[Bob Example <bob@b.test> other@c.test]", cc: `["Second, Recipient" <second@b.test>]`},
		{name: "one Re:", edit: func(o *Original) { o.Subject = "RE: Re:  re[3]: Re : Quarterly report" }, subject: "Re: Quarterly report"},
		{name: "Re: kept when not a prefix", edit: func(o *Original) { o.Subject = "Regarding: Re: x" }, subject: "Re: Regarding: Re: x"},
		{name: "empty subject", edit: func(o *Original) { o.Subject = "" }, subject: "Re: "},
		{name: "tab in subject", edit: func(o *Original) { o.Subject = "a\tb" }, subject: "Re: a b"},
		{name: "references from In-Reply-To", edit: func(o *Original) { o.References = nil; o.InReplyTo = "<parent@b.test>" },
			refs: "[parent@b.test orig@b.test]"},
		{name: "no references", edit: func(o *Original) { o.References = nil }, refs: "[orig@b.test]"},
		{name: "no message id", edit: func(o *Original) { o.MessageID = "" }, inReply: "", refs: "[root@b.test mid@b.test]"},
		{name: "own message goes to its To", edit: func(o *Original) { o.From = "zoe@a.test"; o.To = []string{"bob@b.test"} },
			to: "[bob@b.test]"},
		{name: "malformed Cc skipped", all: true, edit: func(o *Original) { o.Cc = []string{"not an address", "ok@c.test"} },
			cc: "[ok@c.test]"},
		{name: "nobody to answer", edit: func(o *Original) { o.From = "" }, wantErr: ErrNoRecipients},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			orig := base
			orig.References = append([]string(nil), base.References...)
			if tc.edit != nil {
				tc.edit(&orig)
			}
			f, err := Reply(orig, "zoe@a.test", tc.all)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			check := func(what, got, want string) {
				if want != "" && got != want {
					t.Errorf("%s: got %s, want %s", what, got, want)
				}
			}
			check("to", fmt.Sprint(f.To), tc.to)
			check("cc", fmt.Sprint(f.Cc), tc.cc)
			check("subject", f.Subject, tc.subject)
			check("references", fmt.Sprint(f.References), tc.refs)
			if tc.name != "no message id" {
				check("in-reply-to", f.InReplyTo, "orig@b.test")
			} else if f.InReplyTo != "" {
				t.Errorf("in-reply-to %q without an original id", f.InReplyTo)
			}
		})
	}
}

// TestReplyThreads composes a reply from a parsed original and reads it
// back: its References end with the original's id, and it shares the
// original's thread.
func TestReplyThreads(t *testing.T) {
	t.Parallel()
	first, err := testComposer().Compose(sampleRequest(FormatMarkdown, false))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := message.Parse(first.Raw)
	if err != nil {
		t.Fatal(err)
	}
	var replies []*message.Message
	prev := parsed
	for range 2 {
		f, err := Reply(Original{
			MessageID: prev.MessageID, InReplyTo: prev.InReplyTo, References: prev.References,
			ReplyTo: prev.ReplyTo, From: prev.From, To: prev.To, Cc: prev.Cc, Subject: prev.Subject,
		}, "bob@b.test", true)
		if err != nil {
			t.Fatal(err)
		}
		req := Request{From: Address{Addr: "bob@b.test"}, Body: "Thanks!"}
		f.Apply(&req)
		out, err := testComposer().Compose(req)
		if err != nil {
			t.Fatal(err)
		}
		m, err := message.Parse(out.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if m.InReplyTo != prev.MessageID || m.References[len(m.References)-1] != prev.MessageID {
			t.Errorf("reply does not point at its parent: %q %q", m.InReplyTo, m.References)
		}
		if m.References[0] != parsed.MessageID {
			t.Errorf("thread root lost: %q", m.References)
		}
		if message.ThreadID(m) != message.ThreadID(parsed) {
			t.Errorf("thread id %s, want %s", message.ThreadID(m), message.ThreadID(parsed))
		}
		if !strings.HasPrefix(m.Subject, "Re: ") || strings.HasPrefix(m.Subject, "Re: Re:") {
			t.Errorf("subject %q", m.Subject)
		}
		replies = append(replies, m)
		prev = m
	}
	// Bob answering his own reply continues with its recipients, and
	// never copies himself.
	to, cc := fmt.Sprint(replies[1].To), fmt.Sprint(replies[1].Cc)
	if to != `[Zoë Sender <zoe@a.test> "Second, Recipient" <second@b.test>]` || cc != "[carol@c.test]" {
		t.Errorf("second reply to %s cc %s", to, cc)
	}
}
