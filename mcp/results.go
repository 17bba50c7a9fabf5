package mcp

import "github.com/aimx-dev/aimx/operations"

// Result shapes of the tools (book/mcp.md). Their JSON is the structured
// content; the hand-written output schemas in tools.go describe the same
// shapes, and a test validates every result against its schema. A field
// is optional in the schema exactly when its tag has omitempty.

// MailboxInfo is one mailbox in mailbox_list: the row both doors list.
type MailboxInfo = operations.MailboxRow

// MailboxListResult is mailbox_list's result.
type MailboxListResult struct {
	Mailboxes []MailboxInfo `json:"mailboxes"`
}

// MailboxNameResult is mailbox_create's result.
type MailboxNameResult struct {
	Name string `json:"name"`
}

// MailboxDeleteResult is mailbox_delete's result.
type MailboxDeleteResult struct {
	Name         string `json:"name"`
	DeletedFiles int    `json:"deleted_files"`
}

// EmailSummary is one message in email_list.
type EmailSummary struct {
	ID             string   `json:"id"`
	From           string   `json:"from"`
	To             []string `json:"to"`
	Subject        string   `json:"subject"`
	Date           string   `json:"date"`
	Read           bool     `json:"read"`
	Trusted        string   `json:"trusted"`
	ThreadID       string   `json:"thread_id"`
	DeliveryStatus string   `json:"delivery_status,omitempty"`
}

// EmailListResult is email_list's result: one page, newest first, and how
// many messages match in all.
type EmailListResult struct {
	Emails []EmailSummary `json:"emails"`
	Total  int            `json:"total"`
}

// EmailAttachment is one attachment of a bundle.
type EmailAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Path        string `json:"path"`
}

// EmailRecipient is the delivery state of one recipient of a sent copy.
type EmailRecipient struct {
	Address   string `json:"address"`
	Status    string `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Attempts  int    `json:"attempts"`
	TLS       string `json:"tls,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

// EmailReadResult is email_read's result: every book/storage.md frontmatter field
// by name, unknown keys under Extra, and the body (fenced unless trusted).
type EmailReadResult struct {
	ID             string            `json:"id"`
	MessageID      string            `json:"message_id"`
	ThreadID       string            `json:"thread_id"`
	From           string            `json:"from"`
	To             []string          `json:"to"`
	Cc             []string          `json:"cc,omitempty"`
	ReplyTo        []string          `json:"reply_to,omitempty"`
	DeliveredTo    string            `json:"delivered_to,omitempty"`
	Subject        string            `json:"subject"`
	Date           string            `json:"date"`
	ReceivedAt     string            `json:"received_at,omitempty"`
	ReceivedFromIP string            `json:"received_from_ip,omitempty"`
	SizeBytes      int64             `json:"size_bytes"`
	Attachments    []EmailAttachment `json:"attachments,omitempty"`
	InReplyTo      string            `json:"in_reply_to,omitempty"`
	References     []string          `json:"references,omitempty"`
	ListID         string            `json:"list_id,omitempty"`
	AutoSubmitted  string            `json:"auto_submitted,omitempty"`
	DKIM           string            `json:"dkim"`
	SPF            string            `json:"spf"`
	DMARC          string            `json:"dmarc"`
	Trusted        string            `json:"trusted"`
	Mailbox        string            `json:"mailbox"`
	Read           *bool             `json:"read,omitempty"`
	ReadAt         string            `json:"read_at,omitempty"`
	HooksDue       []string          `json:"hooks_due,omitempty"`
	Outbound       bool              `json:"outbound,omitempty"`
	OutboundFormat string            `json:"outbound_format,omitempty"`
	DeliveryStatus string            `json:"delivery_status,omitempty"`
	Recipients     []EmailRecipient  `json:"recipients,omitempty"`
	Extra          map[string]any    `json:"extra"`
	Body           string            `json:"body"`
}

// ReadStateResult is the result of email_mark_read and email_mark_unread.
type ReadStateResult struct {
	ID   string `json:"id"`
	Read bool   `json:"read"`
}

// HookInfo is one hook in hook_list: the row both doors list.
type HookInfo = operations.HookInfo

// HookListResult is hook_list's result.
type HookListResult struct {
	Hooks []HookInfo `json:"hooks"`
}

// HookNameResult is the result of hook_create and hook_delete.
type HookNameResult struct {
	Name string `json:"name"`
}
