package operations

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/dsn"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/storage"
)

// Bounces closes the loop on mail that was not delivered (book/sending.md,
// "Bounces"): a DSN to the sending mailbox when the queue gives up on a
// recipient, and the sent copy marked failed when a remote server's DSN
// comes back.
type Bounces struct {
	Registry *domains.Registry
	Store    storage.MessageStore
	Queue    outbound.Queue
	// DeliverLocal hands a DSN to intake (a null envelope sender) for the
	// sending mailbox; intake verifies, stores and deduplicates it.
	DeliverLocal func(ctx context.Context, from string, rcpts []string, data []byte) error
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// maxReturnedHeader caps the original's header block quoted in a DSN.
const maxReturnedHeader = 64 << 10

// maxReportBytes caps the inbound DSN read to find the failed recipients.
const maxReportBytes = 4 << 20

// sentScanLimit bounds how many of a mailbox's most recent sent copies are
// searched for the message a DSN is about.
const sentScanLimit = 2000

// GaveUp sends the sending mailbox one DSN (RFC 3464) for the recipients a
// round gave up on. The DSN's Message-ID and Date come from the queue id
// and the recipients' states, so handing the same round on again after a
// crash builds a DSN with the same Message-ID.
func (b *Bounces) GaveUp(ctx context.Context, it outbound.Item, failed []outbound.Recipient) error {
	if it.From == "" || len(failed) == 0 {
		return nil // never bounce a bounce (RFC 5321 6.1)
	}
	cfg := b.Registry.Current()
	if _, ok := cfg.Mailbox(it.Mailbox); !ok {
		return nil // the mailbox is gone: nobody to tell
	}
	data, err := b.Queue.Data(ctx, it.ID)
	if err != nil {
		return fmt.Errorf("bounce: read queued message %s: %w", it.ID, err)
	}
	head := data
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		head = data[:i+2]
	}
	if len(head) > maxReturnedHeader {
		head = head[:maxReturnedHeader]
	}
	sum := sha256.New()
	var last time.Time
	fails := make([]dsn.Failure, 0, len(failed))
	for _, r := range failed {
		fmt.Fprintf(sum, "%s\n", strings.ToLower(r.Address))
		if r.UpdatedAt.After(last) {
			last = r.UpdatedAt
		}
		// The DSN writes the code itself; the detail starts with it. A
		// multi-line reply becomes one line (a DSN field is one line).
		diag := oneLine(strings.TrimPrefix(r.Detail, strconv.Itoa(r.Code)+" "))
		fails = append(fails, dsn.Failure{Recipient: r.Address, Code: r.Code, Status: r.Enhanced, Diagnostic: diag,
			LastAttempt: r.UpdatedAt})
	}
	if last.IsZero() {
		last = it.Enqueued
	}
	host := cfg.Hostname()
	origID, subject := headerValue(head, "Message-ID"), headerValue(head, "Subject")
	msg, err := dsn.Build(dsn.BuildRequest{
		ReportingMTA: host, From: "Mail Delivery System <MAILER-DAEMON@" + host + ">", To: it.Mailbox,
		MessageID: "dsn." + it.ID + "." + hex.EncodeToString(sum.Sum(nil)[:6]) + "@" + host, Date: last,
		OriginalMessageID: strings.Trim(origID, "<> "), OriginalSubject: subject, OriginalHeaders: head,
		ArrivalDate: it.Enqueued, Failures: fails,
	})
	if err != nil {
		return fmt.Errorf("bounce for %s: %w: %v", it.ID, ErrDSNNotBuilt, err)
	}
	if err := b.DeliverLocal(ctx, "", []string{it.Mailbox}, msg); err != nil {
		return fmt.Errorf("bounce: deliver DSN to %s: %w", it.Mailbox, err)
	}
	return nil
}

// ErrDSNNotBuilt: the DSN could not be built from what the queue holds;
// trying again would not help, so the round is handed on without it.
var ErrDSNNotBuilt = errors.New("DSN not built")

// oneLine joins the lines of a reply with spaces and drops other control
// characters.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\r' || r == '\n' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// headerValue returns the first field called name in a header block,
// unfolded, "" when absent. The block is ours (we composed it), so a
// simple reader is enough.
func headerValue(head []byte, name string) string {
	lines := strings.Split(string(head), "\r\n")
	for i := 0; i < len(lines); i++ {
		k, v, ok := strings.Cut(lines[i], ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], " ") || strings.HasPrefix(lines[i+1], "\t")) {
			i++
			v += lines[i]
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// ErrNoSentCopy: a DSN names a message that is not among the mailbox's
// recent sent copies.
var ErrNoSentCopy = errors.New("no sent copy for this report")

// Report reads a delivery status notification stored in a mailbox's inbox
// and marks each recipient it reports failed as failed in the sent copy it
// is about, with the remote diagnostic as detail. It returns the sent
// copy's id. Reports about mail we did not send change nothing.
func (b *Bounces) Report(ctx context.Context, mailbox, id string) (string, error) {
	ref := domains.MailboxRef(mailbox)
	f, err := b.Store.OpenRaw(ctx, ref, storage.Inbox, id)
	if err != nil {
		return "", fmt.Errorf("read report %s: %w", id, err)
	}
	rep, err := dsn.Parse(f.Reader(), maxReportBytes)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("parse report %s: %w", id, err)
	}
	if rep.OriginalMessageID == "" {
		return "", fmt.Errorf("report %s names no message: %w", id, ErrNoSentCopy)
	}
	sentID, err := b.findSent(ctx, ref, rep.OriginalMessageID)
	if err != nil {
		return "", err
	}
	failed := map[string]dsn.Recipient{}
	for _, r := range rep.Recipients {
		if r.Failed() {
			failed[strings.ToLower(r.FinalRecipient)] = r
			if r.OriginalRecipient != "" {
				failed[strings.ToLower(r.OriginalRecipient)] = r
			}
		}
	}
	if len(failed) == 0 {
		return sentID, nil
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	_, err = b.Store.SetDelivery(ctx, ref, sentID, func(cur []storage.Recipient) (string, []storage.Recipient) {
		states := make([]string, len(cur))
		for i, r := range cur {
			// A recipient already failed keeps the reason it has (our
			// own DSN comes back through here too).
			if d, ok := failed[strings.ToLower(r.Address)]; ok && r.Status != string(outbound.StatusFailed) {
				why := d.DiagnosticCode
				if why == "" {
					why = d.Status
				}
				r.Status = string(outbound.StatusFailed)
				r.Detail = "bounced: " + why
				r.UpdatedAt = now().UTC()
				cur[i] = r
			}
			states[i] = cur[i].Status
		}
		return WorstStatus(states), cur
	})
	if err != nil {
		return "", fmt.Errorf("record bounce in %s: %w", sentID, err)
	}
	return sentID, nil
}

// findSent finds the sent copy with a Message-ID among the mailbox's most
// recent sent copies.
func (b *Bounces) findSent(ctx context.Context, ref storage.MailboxRef, messageID string) (string, error) {
	const page = 200
	for off := 0; off < sentScanLimit; off += page {
		res, err := b.Store.List(ctx, storage.ListQuery{Mailbox: ref, Folder: storage.Sent, Limit: page, Offset: off})
		if err != nil {
			return "", fmt.Errorf("find sent copy of %s: %w", messageID, err)
		}
		for _, m := range res.Messages {
			if m.Frontmatter != nil && strings.EqualFold(m.Frontmatter.MessageID, messageID) {
				return m.ID, nil
			}
		}
		if off+page >= res.Total {
			break
		}
	}
	return "", fmt.Errorf("%s: %w", messageID, ErrNoSentCopy)
}
