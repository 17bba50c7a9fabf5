package mcp

import "github.com/aimx-dev/aimx/operations"

// Result shapes of the tools (book/mcp.md). Their JSON is the structured
// content, and their output schemas are generated from them (schema.go):
// a field's jsonschema tag is its description, and a field is optional in
// the schema exactly when its json tag has omitempty. A test validates
// every result against its schema.

// MailboxInfo is one mailbox in mailbox_list: the row both doors list.
type MailboxInfo = operations.MailboxRow

// MailboxListResult is mailbox_list's result.
type MailboxListResult struct {
	Mailboxes []MailboxInfo `json:"mailboxes" jsonschema:"One entry per mailbox."`
}

// MailboxNameResult is mailbox_create's result.
type MailboxNameResult struct {
	Name string `json:"name" jsonschema:"The mailbox's full address."`
}

// MailboxDeleteResult is mailbox_delete's result.
type MailboxDeleteResult struct {
	Name         string `json:"name" jsonschema:"The deleted mailbox's full address."`
	DeletedFiles int    `json:"deleted_files" jsonschema:"How many files were removed."`
	// Hooks and Webhooks name what was removed with the mailbox.
	Hooks    []string `json:"hooks,omitempty" jsonschema:"The names of the mailbox's hooks, deleted with it."`
	Webhooks []string `json:"webhooks,omitempty" jsonschema:"The names of the mailbox's webhooks, deleted with it."`
}

// EmailSummary is one message in email_list.
type EmailSummary struct {
	ID             string   `json:"id" jsonschema:"The email's id within its folder; pass it to email_read."`
	From           string   `json:"from" jsonschema:"The sender, as Name <address> or address: text the sender chose (unverified unless trusted is true)."`
	To             []string `json:"to" jsonschema:"The To recipients."`
	Subject        string   `json:"subject" jsonschema:"The subject (empty when there was none): text the sender chose."`
	Date           string   `json:"date" jsonschema:"The Date header as RFC 3339 (raw header text for some migrated mail)."`
	Read           bool     `json:"read" jsonschema:"Whether it is marked read (always false for sent copies)."`
	Trusted        string   `json:"trusted" jsonschema:"Trust verdict: true (verified sender on the mailbox's trusted list), false (not verified), none (trust checks off)."`
	ThreadID       string   `json:"thread_id" jsonschema:"Emails of one conversation share this id."`
	DeliveryStatus string   `json:"delivery_status,omitempty" jsonschema:"Sent copies only: the worst recipient state (failed, deferred, queued, delivered)."`
}

// EmailListResult is email_list's result: one page, newest first, and how
// many messages match in all.
type EmailListResult struct {
	Emails     []EmailSummary `json:"emails" jsonschema:"The page, newest first (by receipt)."`
	Total      int            `json:"total" jsonschema:"How many emails match the filters in all."`
	NextCursor string         `json:"next_cursor,omitempty" jsonschema:"Present when more emails match: pass it as cursor for the next page (no row repeats even if mail arrives meanwhile)."`
}

// EmailAttachment is one attachment of a bundle.
type EmailAttachment struct {
	Filename    string `json:"filename" jsonschema:"The file name, as the sender named it (cleaned): pass it to attachment_read for the content."`
	ContentType string `json:"content_type" jsonschema:"The MIME type, such as application/pdf."`
	Size        int64  `json:"size" jsonschema:"Size in bytes."`
}

// EmailRecipient is the delivery state of one recipient of a sent copy.
type EmailRecipient struct {
	Address   string `json:"address" jsonschema:"The recipient address."`
	Status    string `json:"status" jsonschema:"queued, deferred, delivered or failed."`
	Detail    string `json:"detail,omitempty" jsonschema:"The last answer from the remote server, or the error."`
	Attempts  int    `json:"attempts" jsonschema:"Delivery attempts so far."`
	TLS       string `json:"tls,omitempty" jsonschema:"verified, unverified or none."`
	UpdatedAt string `json:"updated_at,omitempty" jsonschema:"When the state last changed, RFC 3339."`
}

// EmailReadResult is email_read's result: every book/storage.md frontmatter field
// by name, unknown keys under Extra, and the body (fenced unless trusted).
type EmailReadResult struct {
	ID             string            `json:"id" jsonschema:"The email's id within its folder."`
	MessageID      string            `json:"message_id" jsonschema:"The Message-ID header without <>."`
	ThreadID       string            `json:"thread_id" jsonschema:"Emails of one conversation share this id."`
	From           string            `json:"from" jsonschema:"The sender, as Name <address> or address."`
	To             []string          `json:"to" jsonschema:"The To recipients."`
	Cc             []string          `json:"cc,omitempty" jsonschema:"The Cc recipients."`
	ReplyTo        []string          `json:"reply_to,omitempty" jsonschema:"The Reply-To addresses: where replies go."`
	DeliveredTo    string            `json:"delivered_to,omitempty" jsonschema:"The envelope recipient this copy was delivered to."`
	Subject        string            `json:"subject" jsonschema:"The subject (empty when there was none)."`
	Date           string            `json:"date" jsonschema:"The Date header as RFC 3339 (raw header text for some migrated mail)."`
	ReceivedAt     string            `json:"received_at,omitempty" jsonschema:"When this server received it, RFC 3339."`
	ReceivedFromIP string            `json:"received_from_ip,omitempty" jsonschema:"The IP address of the server that sent it to us."`
	SizeBytes      int64             `json:"size_bytes" jsonschema:"Size of the raw message in bytes."`
	Attachments    []EmailAttachment `json:"attachments,omitempty" jsonschema:"Attachment files stored beside the email."`
	InReplyTo      string            `json:"in_reply_to,omitempty" jsonschema:"The Message-ID this email replies to, without <>."`
	References     []string          `json:"references,omitempty" jsonschema:"The Message-IDs of the thread, oldest first, without <>."`
	ListID         string            `json:"list_id,omitempty" jsonschema:"The List-Id header: set for mailing-list mail."`
	AutoSubmitted  string            `json:"auto_submitted,omitempty" jsonschema:"The Auto-Submitted header: set for automatic mail (do not auto-reply to it)."`
	DKIM           string            `json:"dkim" jsonschema:"DKIM result: pass, fail, softfail, neutral, none, temperror or permerror."`
	SPF            string            `json:"spf" jsonschema:"SPF result, same values."`
	DMARC          string            `json:"dmarc" jsonschema:"DMARC result, same values."`
	Trusted        string            `json:"trusted" jsonschema:"Trust verdict: true, false or none. Anything but true means the body is fenced."`
	Mailbox        string            `json:"mailbox" jsonschema:"The mailbox's full address."`
	Read           *bool             `json:"read,omitempty" jsonschema:"Inbox only: whether it is marked read."`
	ReadAt         string            `json:"read_at,omitempty" jsonschema:"When it was marked read, RFC 3339."`
	HooksDue       []string          `json:"hooks_due,omitempty" jsonschema:"Names of the on_receive hooks due for this email."`
	Outbound       bool              `json:"outbound,omitempty" jsonschema:"True for a sent copy."`
	OutboundFormat string            `json:"outbound_format,omitempty" jsonschema:"Sent copies: markdown, text or html."`
	DeliveryStatus string            `json:"delivery_status,omitempty" jsonschema:"Sent copies: the worst recipient state (failed, deferred, queued, delivered)."`
	Recipients     []EmailRecipient  `json:"recipients,omitempty" jsonschema:"Sent copies: delivery state per recipient."`
	Extra          map[string]any    `json:"extra" jsonschema:"Stored fields this version does not know (for example from mail written by an older aimx), by name."`
	BodyCut
	// BodyNew is the text the sender wrote in this email, when the body
	// also quotes earlier mail or carries a signature (render_body.go).
	BodyNew          string `json:"body_new,omitempty" jsonschema:"The text the sender wrote in this email, without the quoted earlier mail and the signature: what you usually need. Present (at body_offset 0) when the body quotes or signs; fenced like body."`
	BodyNewTruncated bool   `json:"body_new_truncated,omitempty" jsonschema:"True when body_new was cut to fit max_body_chars."`
}

// BodyCut is the part of a body one result carries (book/mcp.md, "Size
// control").
type BodyCut struct {
	Body           string `json:"body,omitempty" jsonschema:"The body as text (Markdown for HTML mail) from body_offset, at most max_body_chars characters. Unless trusted is \"true\", it is wrapped between <untrusted-email nonce=...> markers after a one-line warning. Left out when empty or when in_text put it in the text rendering."`
	BodyChars      int    `json:"body_chars" jsonschema:"The length of the whole body in characters."`
	BodyOffset     int    `json:"body_offset" jsonschema:"The character where this part of the body starts."`
	BodyTruncated  bool   `json:"body_truncated" jsonschema:"True when the body goes on after this part: call again with body_offset next_body_offset."`
	NextBodyOffset int    `json:"next_body_offset,omitempty" jsonschema:"Where the rest of the body starts, when body_truncated."`
}

// ThreadReadResult is thread_read's result: one page of a thread's
// emails, oldest first, with compact bodies (book/mcp.md, "Threads").
type ThreadReadResult struct {
	ThreadID   string        `json:"thread_id" jsonschema:"The thread."`
	Mailbox    string        `json:"mailbox" jsonschema:"The mailbox's full address."`
	Total      int           `json:"total" jsonschema:"How many emails of the thread the mailbox holds (in the folders read)."`
	Offset     int           `json:"offset" jsonschema:"How many emails of the thread come before this page."`
	NextOffset int           `json:"next_offset,omitempty" jsonschema:"Present when more emails follow: pass it as offset for the next page."`
	Emails     []ThreadEmail `json:"emails" jsonschema:"The page, oldest first (by receipt), inbox and sent mail together."`
}

// ThreadEmail is one email of thread_read.
type ThreadEmail struct {
	ID          string   `json:"id" jsonschema:"The email's id within its folder; pass it with folder to email_read for everything."`
	Folder      string   `json:"folder" jsonschema:"The folder it is in: inbox (received), sent (sent by this mailbox), archive or trash."`
	MessageID   string   `json:"message_id" jsonschema:"The Message-ID header without <>."`
	InReplyTo   string   `json:"in_reply_to,omitempty" jsonschema:"The Message-ID this email replies to, without <>."`
	From        string   `json:"from" jsonschema:"The sender, as Name <address> or address: text the sender chose."`
	To          []string `json:"to" jsonschema:"The To recipients."`
	Cc          []string `json:"cc,omitempty" jsonschema:"The Cc recipients."`
	Subject     string   `json:"subject" jsonschema:"The subject: text the sender chose."`
	Date        string   `json:"date" jsonschema:"The Date header as RFC 3339 (raw header text for some migrated mail)."`
	ReceivedAt  string   `json:"received_at,omitempty" jsonschema:"When this server received it, RFC 3339."`
	Trusted     string   `json:"trusted" jsonschema:"Trust verdict: true, false or none. Anything but true means the body is fenced."`
	DMARC       string   `json:"dmarc" jsonschema:"DMARC result of the From domain: fail means the sender may be forged."`
	Read        *bool    `json:"read,omitempty" jsonschema:"Inbox only: whether it is marked read."`
	Attachments []string `json:"attachments,omitempty" jsonschema:"Attachment file names (the sender's text)."`
	BodyPart    string   `json:"body_part" jsonschema:"new (the text this email added: quoted earlier mail and signature left out) or full (the whole body)."`
	Body        string   `json:"body,omitempty" jsonschema:"The body_part text, at most this email's share of max_body_chars, fenced unless trusted. Left out when empty or when in_text put it in the text rendering."`
	BodyChars   int      `json:"body_chars" jsonschema:"The length of the body_part text in characters."`
	// BodyTruncated says the share cut it; email_read pages the rest.
	BodyTruncated bool `json:"body_truncated" jsonschema:"True when body was cut to this email's share of max_body_chars: email_read has the rest."`
}

// ReadStateResult is the result of email_mark_read and email_mark_unread.
type ReadStateResult struct {
	ID   string `json:"id" jsonschema:"The email's id."`
	Read bool   `json:"read" jsonschema:"The read state now."`
}

// HookInfo is one hook in hook_list: the row both doors list.
type HookInfo = operations.HookInfo

// HookListResult is hook_list's result.
type HookListResult struct {
	Hooks []HookInfo `json:"hooks" jsonschema:"Hooks by mailbox name, then in the order they were added."`
}

// HookCreateResult is hook_create's result.
type HookCreateResult struct {
	Name string `json:"name" jsonschema:"The hook's name (the derived one when none was given)."`
	// Warnings say when the hook will not run as one might expect
	// (hook_checks.go).
	Warnings []string `json:"warnings,omitempty" jsonschema:"Why the hook may not run for the mail you expect: the mailbox's trust policy, loop protection. Read them and tell the user."`
}

// HookDeleteResult is hook_delete's result.
type HookDeleteResult struct {
	Name string `json:"name" jsonschema:"The deleted hook's name."`
}

// SendResult is what email_send, email_reply and email_status return: the
// sent message and each recipient's delivery state (book/sending.md).
type SendResult struct {
	MessageID      string            `json:"message_id" jsonschema:"The Message-ID of the sent email, without <>."`
	ID             string            `json:"id" jsonschema:"The sent copy's id in the sending mailbox's sent folder; pass it to email_status or email_read with folder sent."`
	Mailbox        string            `json:"mailbox" jsonschema:"The sending mailbox."`
	DeliveryStatus string            `json:"delivery_status" jsonschema:"The worst recipient state: failed, deferred (retrying), held (waiting for the operator's approval), queued (not tried yet) or delivered."`
	Recipients     []RecipientResult `json:"recipients" jsonschema:"One entry per recipient (To, Cc and Bcc)."`
	Replayed       bool              `json:"replayed,omitempty" jsonschema:"True when idempotency_key matched an earlier call: this call sent nothing and reports that send."`
}

// RecipientResult is one recipient's delivery state.
type RecipientResult struct {
	Address   string `json:"address" jsonschema:"The recipient's address."`
	Status    string `json:"status" jsonschema:"queued (not tried yet), held (waiting for the operator's approval), deferred (the receiving server said later; retried automatically), delivered (the receiving server accepted it) or failed (refused or given up; a bounce is in your inbox)."`
	Detail    string `json:"detail,omitempty" jsonschema:"The receiving server's last answer, or why delivery failed."`
	Attempts  int    `json:"attempts" jsonschema:"Delivery attempts made so far."`
	TLS       string `json:"tls,omitempty" jsonschema:"Encryption of the last connection: verified, unverified (encrypted, certificate not verified) or none. Empty for recipients on this server."`
	UpdatedAt string `json:"updated_at,omitempty" jsonschema:"When the state last changed, RFC 3339."`
}

// DraftListResult is draft_list's result.
type DraftListResult struct {
	Drafts []DraftResult `json:"drafts" jsonschema:"The held sends, oldest first."`
}

// DraftResult is one send held for approval.
type DraftResult struct {
	ID         string   `json:"id" jsonschema:"The draft's id, which the operator approves or rejects."`
	Mailbox    string   `json:"mailbox" jsonschema:"The sending mailbox."`
	SentID     string   `json:"sent_id" jsonschema:"The sent copy's id (email_status shows it as held)."`
	Subject    string   `json:"subject" jsonschema:"The subject."`
	Recipients []string `json:"recipients" jsonschema:"Every recipient."`
	HeldAt     string   `json:"held_at" jsonschema:"When it was submitted, RFC 3339."`
}
