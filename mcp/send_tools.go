package mcp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// attachmentArg is one attachment as a caller sends it: bytes, never a
// path the daemon would open (book/security.md).
type attachmentArg struct {
	Filename      string `json:"filename"`
	ContentType   string `json:"content_type"`
	ContentBase64 string `json:"content_base64"`
}

// bodyArgs are the body parameters email_send and email_reply share.
type bodyArgs struct {
	Body        string          `json:"body"`
	TextOnly    bool            `json:"text_only"`
	HTMLBody    string          `json:"html_body"`
	Attachments []attachmentArg `json:"attachments"`
	// IdempotencyKey makes a retried call send once (book/sending.md).
	IdempotencyKey string `json:"idempotency_key"`
	// AutoSubmitted marks an automatic send (RFC 3834).
	AutoSubmitted string `json:"auto_submitted"`
	// Paths is the stdio bridge's parameter (book/mcp.md): the bridge
	// reads the files as the agent's user and sends attachments instead.
	// Reaching the daemon, it names files the daemon must never open.
	Paths []string `json:"paths"`
}

// attachments decodes the attachments and refuses paths.
func (b *bodyArgs) attachments() ([]outbound.Attachment, error) {
	if len(b.Paths) > 0 {
		return nil, errorf("paths only works through the stdio bridge (aimx mcp), which reads the files as you; this server never opens a file a caller names. Send each file's bytes as attachments: [{filename, content_type, content_base64}].")
	}
	out := make([]outbound.Attachment, 0, len(b.Attachments))
	for i, a := range b.Attachments {
		data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(a.ContentBase64), ""))
		if err != nil {
			return nil, errorf("attachments[%d] (%q): content_base64 is not valid base64.", i, a.Filename)
		}
		out = append(out, outbound.Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: data})
	}
	return out, nil
}

// sender is the send operation, or a refusal when the server has none.
func (s *Server) sender() (*operations.Sender, error) {
	if s.deps.Sender == nil {
		return nil, errorf("sending is not available on this server.")
	}
	return s.deps.Sender, nil
}

// emailSend answers email_send (book/sending.md, book/mcp.md).
func (s *Server) emailSend(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		FromMailbox string   `json:"from_mailbox"`
		To          string   `json:"to"`
		Cc          string   `json:"cc"`
		Bcc         string   `json:"bcc"`
		ReplyTo     string   `json:"reply_to"`
		Subject     string   `json:"subject"`
		InReplyTo   string   `json:"in_reply_to"`
		References  []string `json:"references"`
		bodyArgs
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	snd, err := s.sender()
	if err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.FromMailbox)
	if err != nil {
		return nil, "", err
	}
	atts, err := args.attachments()
	if err != nil {
		return nil, "", err
	}
	res, err := snd.Send(ctx, operations.SendRequest{
		Config: c.cfg, From: m, To: args.To, Cc: args.Cc, Bcc: args.Bcc, ReplyTo: args.ReplyTo, Subject: args.Subject,
		Body: args.Body, TextOnly: args.TextOnly, HTMLBody: args.HTMLBody, Attachments: atts,
		InReplyTo: args.InReplyTo, References: args.References,
		IdempotencyKey: args.IdempotencyKey, Caller: c.caller.Owner, AutoSubmitted: args.AutoSubmitted,
	})
	if err != nil {
		return nil, "", sendRefusal(err, m.Name)
	}
	return sendResult(res), sendText("sent", res), nil
}

// emailReply answers email_reply.
func (s *Server) emailReply(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox  string `json:"mailbox"`
		ID       string `json:"id"`
		Folder   string `json:"folder"`
		ReplyAll bool   `json:"reply_all"`
		Bcc      string `json:"bcc"`
		bodyArgs
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	snd, err := s.sender()
	if err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	folder, err := folderArg(args.Folder)
	if err != nil {
		return nil, "", err
	}
	atts, err := args.attachments()
	if err != nil {
		return nil, "", err
	}
	res, err := snd.Reply(ctx, operations.ReplyRequest{
		SendRequest: operations.SendRequest{Config: c.cfg, From: m, Bcc: args.Bcc, Body: args.Body, TextOnly: args.TextOnly,
			HTMLBody: args.HTMLBody, Attachments: atts, IdempotencyKey: args.IdempotencyKey, Caller: "reply\x00" + c.caller.Owner,
			AutoSubmitted: args.AutoSubmitted},
		Folder: folder, ID: args.ID, All: args.ReplyAll,
	})
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidID) {
			return nil, "", emailErr(err, m.Name, folder, args.ID)
		}
		return nil, "", sendRefusal(err, m.Name)
	}
	return sendResult(res), sendText("sent reply", res), nil
}

// emailStatus answers email_status from the sent copy.
func (s *Server) emailStatus(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox string `json:"mailbox"`
		ID      string `json:"id"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	snd, err := s.sender()
	if err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	res, err := snd.Status(ctx, m, args.ID)
	switch {
	case errors.Is(err, operations.ErrNotSentCopy):
		return nil, "", errorf("%q in the sent folder of %s is not a message this server sent, so it has no delivery state.", args.ID, m.Name)
	case err != nil:
		return nil, "", emailErr(err, m.Name, storage.Sent, args.ID)
	}
	return sendResult(res), sendText("status of", res), nil
}

// sendRefusal words a send that was refused for the agent.
func sendRefusal(err error, mailbox string) error {
	var fe *outbound.FieldError
	switch {
	case errors.As(err, &fe):
		return errorf("the email was not sent: %s.", strings.TrimSuffix(fe.Error(), "."))
	case errors.Is(err, operations.ErrCatchall):
		return errorf("%s is a catchall: it receives mail for a whole domain and cannot send. Send from a mailbox of your own (mailbox_list).", mailbox)
	case errors.Is(err, operations.ErrNoKey):
		_, domain := domains.SplitName(mailbox)
		return errorf("the email was not sent: the domain %s has no DKIM key to sign with. The operator must create one with: aimx dkim-keygen --domain %s", domain, domain)
	case errors.Is(err, operations.ErrPolicy):
		return errorf("the email was not sent: the send policy refused it (%v). Ask the operator if the rule should change.", err)
	case errors.Is(err, operations.ErrPairLimit):
		return errorf("the email was not sent: %v.", err)
	case errors.Is(err, operations.ErrBadIdempotencyKey):
		return errorf("idempotency_key must be 1 to %d characters without line breaks.", operations.MaxIdempotencyKey)
	case errors.Is(err, operations.ErrQueueFull):
		return errorf("the email was not sent: the outbound queue could not take it (the server may be out of disk space). Try again later; the sent folder of %s records the failure.", mailbox)
	}
	return err
}

// sendResult is the tools' shape of a send's state.
func sendResult(r *operations.SendResult) SendResult {
	out := SendResult{MessageID: r.MessageID, ID: r.ID, Mailbox: r.Mailbox, DeliveryStatus: r.DeliveryStatus,
		Recipients: make([]RecipientResult, 0, len(r.Recipients)), Replayed: r.Replayed}
	for _, rc := range r.Recipients {
		rr := RecipientResult{Address: rc.Address, Status: rc.Status, Detail: cleanHeader(rc.Detail), Attempts: rc.Attempts, TLS: rc.TLS}
		if !rc.UpdatedAt.IsZero() {
			rr.UpdatedAt = rc.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
		}
		out.Recipients = append(out.Recipients, rr)
	}
	return out
}

// sendText is the short text rendering of a send's state.
func sendText(verb string, r *operations.SendResult) string {
	var b strings.Builder
	if r.Replayed {
		verb = "already " + verb + " with this idempotency_key, nothing sent again:"
	}
	fmt.Fprintf(&b, "%s %s (id %s in the sent folder of %s): %s", verb, r.MessageID, r.ID, r.Mailbox, r.DeliveryStatus)
	for _, rc := range r.Recipients {
		fmt.Fprintf(&b, "\n- %s: %s", rc.Address, rc.Status)
		if rc.Detail != "" {
			fmt.Fprintf(&b, " (%s)", cleanHeader(rc.Detail))
		}
	}
	return b.String()
}

// draftList answers draft_list: the sends of visible mailboxes held for
// the operator's approval (book/sending.md, "Send policy").
func (s *Server) draftList(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox string `json:"mailbox"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	if s.deps.Drafts == nil {
		return nil, "", errorf("sending is not available on this server.")
	}
	only := ""
	if args.Mailbox != "" {
		m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
		if err != nil {
			return nil, "", err
		}
		only = m.Name
	}
	sees := func(name string) bool {
		m, ok := c.cfg.Mailboxes[name]
		return ok && c.caller.seesMailbox(m) && (only == "" || name == only)
	}
	list, err := s.deps.Drafts.List(ctx, sees)
	if err != nil {
		return nil, "", err
	}
	res := DraftListResult{Drafts: make([]DraftResult, 0, len(list))}
	var b strings.Builder
	fmt.Fprintf(&b, "%d sends waiting for the operator's approval", len(list))
	for _, d := range list {
		res.Drafts = append(res.Drafts, DraftResult{ID: d.ID, Mailbox: d.Mailbox, SentID: d.SentID, Subject: cleanHeader(d.Subject),
			Recipients: nonNil(d.Recipients), HeldAt: d.Held.UTC().Format("2006-01-02T15:04:05Z07:00")})
		fmt.Fprintf(&b, "\n- %s from %s to %s: %q", d.ID, d.Mailbox, strings.Join(d.Recipients, ", "), cleanHeader(d.Subject))
	}
	return res, b.String(), nil
}
