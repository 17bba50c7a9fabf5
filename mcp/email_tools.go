package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/auth"
	"github.com/aimx-dev/aimx/storage"
)

// maxListLimit caps email_list pages (book/mcp.md).
const maxListLimit = 200

// folderArg reads the folder parameter: inbox (default) or sent.
func folderArg(f string) (storage.Folder, error) {
	switch f {
	case "", "inbox":
		return storage.Inbox, nil
	case "sent":
		return storage.Sent, nil
	}
	return "", errorf("folder must be inbox or sent, not %q.", f)
}

// emailList answers email_list from the storage index (book/mcp.md).
func (s *Server) emailList(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox   string `json:"mailbox"`
		Folder    string `json:"folder"`
		Limit     *int   `json:"limit"`
		Offset    int    `json:"offset"`
		Cursor    string `json:"cursor"`
		Unread    bool   `json:"unread"`
		From      string `json:"from"`
		Since     string `json:"since"`
		Subject   string `json:"subject"`
		ThreadID  string `json:"thread_id"`
		MessageID string `json:"message_id"`
		Trusted   string `json:"trusted"`
		Label     string `json:"label"`
		InText    bool   `json:"in_text"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	folder, err := anyFolderArg(args.Folder)
	if err != nil {
		return nil, "", err
	}
	limit := storage.DefaultListLimit
	if args.Limit != nil {
		limit = *args.Limit
	}
	if limit < 1 || limit > maxListLimit {
		return nil, "", errorf("limit must be between 1 and %d, not %d.", maxListLimit, limit)
	}
	if args.Offset < 0 {
		return nil, "", errorf("offset must not be negative.")
	}
	switch args.Trusted {
	case "", auth.TrustedTrue, auth.TrustedFalse, auth.TrustedNone:
	default:
		return nil, "", errorf("trusted must be true, false or none, not %q.", cleanHeader(args.Trusted))
	}
	q := storage.ListQuery{Mailbox: domains.MailboxRef(m.Name), Folder: folder, Limit: limit, Offset: args.Offset,
		Cursor: strings.TrimSpace(args.Cursor), Unread: args.Unread, From: args.From, Subject: args.Subject,
		ThreadID: strings.TrimSpace(args.ThreadID), MessageID: bareMessageID(args.MessageID), Trusted: args.Trusted,
		Label: args.Label}
	if args.Since != "" {
		q.Since, err = parseSince(args.Since)
		if err != nil {
			return nil, "", err
		}
	}
	page, err := s.deps.Store.List(ctx, q)
	if errors.Is(err, storage.ErrInvalidLabel) {
		return nil, "", errorf("label must be 1 to %d characters without control, bidi or zero-width characters, not %q.", storage.MaxLabelChars, cleanHeader(args.Label))
	}
	if errors.Is(err, storage.ErrBadCursor) {
		return nil, "", errorf("cursor is not one email_list returned; pass next_cursor from the previous page unchanged, or leave cursor out to start from the newest email.")
	}
	if err != nil {
		return nil, "", err
	}
	res := EmailListResult{Emails: make([]EmailSummary, 0, len(page.Messages)), Total: page.Total, NextCursor: page.NextCursor}
	for _, msg := range page.Messages {
		fm := msg.Frontmatter
		// Header values are the sender's: cleaned of line breaks and
		// disguising characters before an agent sees them (sanitize.go).
		res.Emails = append(res.Emails, EmailSummary{ID: cleanHeader(msg.ID), From: cleanHeader(fm.From), To: nonNil(cleanHeaders(fm.To)),
			Subject: cleanHeader(fm.Subject), Date: cleanHeader(fm.Date), Read: fm.Read, Trusted: cleanHeader(fm.Trusted),
			ThreadID: cleanHeader(fm.ThreadID), DeliveryStatus: cleanHeader(fm.DeliveryStatus)})
	}
	text := listText(m.Name, folder, args.Offset, q.Cursor != "", res, args.InText)
	if args.InText {
		res.Emails = []EmailSummary{} // the rows went into the text: sent once
	}
	return res, text, nil
}

// bareMessageID takes a Message-ID as agents write it, with or without
// its angle brackets.
func bareMessageID(id string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
}

// parseSince reads email_list's since (book/mcp.md, "Arguments"): an RFC
// 3339 time, or a date (2026-10-07), which means its start in UTC.
func parseSince(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errorf("since must be a date such as 2026-10-07 or an RFC 3339 time such as 2026-10-07T00:00:00Z, not %q.", cleanHeader(s))
}

// emailRead answers email_read: every frontmatter field, extra, and the
// body, fenced unless trusted (book/mcp.md, book/verification.md), at most
// max_body_chars characters of it ("Size control").
func (s *Server) emailRead(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox      string `json:"mailbox"`
		ID           string `json:"id"`
		Folder       string `json:"folder"`
		MaxBodyChars *int   `json:"max_body_chars"`
		BodyOffset   int    `json:"body_offset"`
		InText       bool   `json:"in_text"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	folder, err := anyFolderArg(args.Folder)
	if err != nil {
		return nil, "", err
	}
	budget, err := bodyBudget(args.MaxBodyChars)
	if err != nil {
		return nil, "", err
	}
	if args.BodyOffset < 0 {
		return nil, "", errorf("body_offset must not be negative.")
	}
	msg, err := s.deps.Store.Read(ctx, domains.MailboxRef(m.Name), folder, args.ID)
	if err != nil {
		return nil, "", emailErr(err, m.Name, folder, args.ID)
	}
	res := readResult(msg, m.Name, folder)
	bodyNew, newCut := "", false
	if args.BodyOffset == 0 {
		if t, cut := newText(msg.Body); cut && strings.TrimSpace(t) != "" {
			bodyNew = t
		}
	}
	// book/mcp.md: the new text first; it takes at most half the budget
	// when the body does not fit beside it.
	bodyLeft := utf8.RuneCountInString(msg.Body) - args.BodyOffset
	newCap := budget
	if n := utf8.RuneCountInString(bodyNew); n > 0 && n+bodyLeft > budget {
		newCap = budget / 2
	}
	bodyNew, _, newCut = cutChars(bodyNew, 0, newCap)
	part, total, more := cutChars(msg.Body, args.BodyOffset, budget-utf8.RuneCountInString(bodyNew))
	res.BodyCut = BodyCut{BodyChars: total, BodyOffset: args.BodyOffset, BodyTruncated: more}
	if more {
		res.NextBodyOffset = args.BodyOffset + utf8.RuneCountInString(part)
	}
	res.BodyNewTruncated = newCut
	if msg.Frontmatter.Trusted != auth.TrustedTrue {
		nonce, err := newNonce(s.deps.Rand)
		if err != nil {
			return nil, "", err
		}
		part = fenceFrom(part, msg.Frontmatter.Trusted, msg.Frontmatter.DMARC, nonce)
		if bodyNew != "" {
			bodyNew = fenceFrom(bodyNew, msg.Frontmatter.Trusted, msg.Frontmatter.DMARC, nonce)
		}
	}
	text := readText(&res, folder, part, bodyNew, args.InText)
	if !args.InText {
		res.Body, res.BodyNew = part, bodyNew
	}
	return res, text, nil
}

// bodyBudget reads max_body_chars.
func bodyBudget(v *int) (int, error) {
	if v == nil {
		return defaultBodyChars, nil
	}
	if *v < 0 || *v > maxBodyChars {
		return 0, errorf("max_body_chars must be between 0 and %d, not %d.", maxBodyChars, *v)
	}
	return *v, nil
}

// emailMark answers email_mark_read (read true) and email_mark_unread.
func (s *Server) emailMark(read bool) handlerFunc {
	return func(ctx context.Context, c *call) (any, string, error) {
		var args struct {
			Mailbox string `json:"mailbox"`
			ID      string `json:"id"`
		}
		if err := c.bind(&args); err != nil {
			return nil, "", err
		}
		m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
		if err != nil {
			return nil, "", err
		}
		fm, err := s.deps.Store.SetRead(ctx, domains.MailboxRef(m.Name), storage.Inbox, args.ID, read)
		if err != nil {
			return nil, "", emailErr(err, m.Name, storage.Inbox, args.ID)
		}
		state := "read"
		if !fm.Read {
			state = "unread"
		}
		return ReadStateResult{ID: args.ID, Read: fm.Read}, fmt.Sprintf("%s is now %s", args.ID, state), nil
	}
}

// emailErr turns a storage error about one message into agent text.
func emailErr(err error, mailbox string, folder storage.Folder, id string) error {
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalidID):
		return errorf("no email with id %q in the %s folder of %s. Call email_list to see the ids.", id, folder, mailbox)
	}
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// rfc3339 formats a time, or "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// readResult maps a message to email_read's result, without the body.
// Every value is cleaned (sanitize.go): it comes from the sender's headers
// or from a file on disk, and is printed as one line of the text rendering.
// readResult renders a stored message for email_read. mailbox is the
// mailbox's FQDN: mail the Rust aimx wrote names it by its config key
// ("billing", "catchall"), and agents always get the full name
// (book/upgrade.md).
func readResult(msg *storage.Message, mailbox string, folder storage.Folder) EmailReadResult {
	fm := msg.Frontmatter
	h := cleanHeader
	r := EmailReadResult{
		ID: h(msg.ID), MessageID: h(fm.MessageID), ThreadID: h(fm.ThreadID), From: h(fm.From), To: nonNil(cleanHeaders(fm.To)),
		Cc: cleanHeaders(fm.Cc), ReplyTo: cleanHeaders(fm.ReplyTo), DeliveredTo: h(fm.DeliveredTo), Subject: h(fm.Subject), Date: h(fm.Date),
		ReceivedAt: rfc3339(fm.ReceivedAt), ReceivedFromIP: h(fm.ReceivedFromIP), SizeBytes: fm.SizeBytes,
		InReplyTo: h(fm.InReplyTo), References: cleanHeaders(fm.References), ListID: h(fm.ListID), AutoSubmitted: h(fm.AutoSubmitted),
		DKIM: h(fm.DKIM), SPF: h(fm.SPF), DMARC: h(fm.DMARC), Trusted: h(fm.Trusted), Mailbox: h(mailbox),
		ReadAt: rfc3339(fm.ReadAt), HooksDue: cleanHeaders(fm.HooksDue), Outbound: fm.Outbound, OutboundFormat: h(fm.OutboundFormat),
		DeliveryStatus: h(fm.DeliveryStatus), Extra: map[string]any{},
	}
	if folder != storage.Sent && !fm.Outbound {
		read := fm.Read
		r.Read = &read
	}
	for _, a := range fm.Attachments {
		r.Attachments = append(r.Attachments, EmailAttachment{Filename: h(a.Filename), ContentType: h(a.ContentType), Size: a.Size})
	}
	for _, rc := range fm.Recipients {
		r.Recipients = append(r.Recipients, EmailRecipient{Address: h(rc.Address), Status: h(rc.Status), Detail: h(rc.Detail),
			Attempts: rc.Attempts, TLS: h(rc.TLS), UpdatedAt: rfc3339(rc.UpdatedAt)})
	}
	for _, f := range fm.Extra {
		r.Extra[h(f.Key)] = cleanValue(jsonValue(f.Value))
	}
	return r
}
