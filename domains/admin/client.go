package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"syscall"
	"time"
)

// ErrDaemonDown reports that no daemon answers on the socket: it is
// missing, or left by a daemon that is gone. The CLI then edits the files
// itself (operator) or says the daemon must be running.
var ErrDaemonDown = errors.New("aimx daemon is not running")

// ErrNotOperator reports that the socket refused the connection for lack
// of permission: admin.sock is 0600, for the daemon's user and root.
var ErrNotOperator = errors.New("only the operator (root or the daemon's user) can use admin.sock")

// Client speaks the operator API over admin.sock. Its methods have the
// same signatures as Admin's, so the CLI drives either.
type Client struct {
	// Socket is the admin.sock path.
	Socket string
	http   *http.Client
}

// NewClient returns a client of the admin.sock in runtimeDir.
func NewClient(runtimeDir string) *Client {
	sock := filepath.Join(runtimeDir, SocketName)
	return &Client{Socket: sock, http: &http.Client{
		Timeout: 2 * time.Minute, // a forced delete of a big mailbox takes a while
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		},
	}}
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// do sends one request and decodes the answer into out; an API error comes
// back as *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://aimx"+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
			return fmt.Errorf("%w (no answer on %s)", ErrDaemonDown, c.Socket)
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			return fmt.Errorf("%w: %s", ErrNotOperator, c.Socket)
		}
		return fmt.Errorf("%s %s on %s: %w", method, path, c.Socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Code == "" {
			return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
		}
		return e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// ListDrafts is GET /v1/drafts.
func (c *Client) ListDrafts(ctx context.Context) (DraftList, error) {
	var v DraftList
	return v, c.do(ctx, http.MethodGet, "/v1/drafts", nil, &v)
}

// ApproveDraft is POST /v1/drafts/{id}/approve.
func (c *Client) ApproveDraft(ctx context.Context, id string) (Draft, error) {
	var v Draft
	return v, c.do(ctx, http.MethodPost, "/v1/drafts/"+url.PathEscape(id)+"/approve", nil, &v)
}

// RejectDraft is POST /v1/drafts/{id}/reject.
func (c *Client) RejectDraft(ctx context.Context, id string) (Draft, error) {
	var v Draft
	return v, c.do(ctx, http.MethodPost, "/v1/drafts/"+url.PathEscape(id)+"/reject", nil, &v)
}

// ListDomains is GET /v1/domains.
func (c *Client) ListDomains(ctx context.Context) (DomainList, error) {
	var v DomainList
	return v, c.do(ctx, http.MethodGet, "/v1/domains", nil, &v)
}

// AddDomain is POST /v1/domains.
func (c *Client) AddDomain(ctx context.Context, req NewDomain) (DomainAdded, error) {
	var v DomainAdded
	return v, c.do(ctx, http.MethodPost, "/v1/domains", req, &v)
}

// RemoveDomain is DELETE /v1/domains/{domain}.
func (c *Client) RemoveDomain(ctx context.Context, domain string, force bool) (DomainRemoved, error) {
	var v DomainRemoved
	p := "/v1/domains/" + url.PathEscape(domain)
	if force {
		p += "?force=true"
	}
	return v, c.do(ctx, http.MethodDelete, p, nil, &v)
}

// ListMailboxes is GET /v1/mailboxes.
func (c *Client) ListMailboxes(ctx context.Context) (MailboxList, error) {
	var v MailboxList
	return v, c.do(ctx, http.MethodGet, "/v1/mailboxes", nil, &v)
}

// CreateMailbox is POST /v1/mailboxes.
func (c *Client) CreateMailbox(ctx context.Context, req NewMailbox) (MailboxCreated, error) {
	var v MailboxCreated
	return v, c.do(ctx, http.MethodPost, "/v1/mailboxes", req, &v)
}

// DeleteMailbox is DELETE /v1/mailboxes/{name}.
func (c *Client) DeleteMailbox(ctx context.Context, name string, force bool) (MailboxDeleted, error) {
	var v MailboxDeleted
	p := "/v1/mailboxes/" + url.PathEscape(name)
	if force {
		p += "?force=true"
	}
	return v, c.do(ctx, http.MethodDelete, p, nil, &v)
}

// ListHooks is GET /v1/hooks.
func (c *Client) ListHooks(ctx context.Context, mailbox string) (HookList, error) {
	var v HookList
	p := "/v1/hooks"
	if mailbox != "" {
		p += "?mailbox=" + url.QueryEscape(mailbox)
	}
	return v, c.do(ctx, http.MethodGet, p, nil, &v)
}

// CreateHook is POST /v1/hooks.
func (c *Client) CreateHook(ctx context.Context, req HookInfo) (HookInfo, error) {
	var v HookInfo
	return v, c.do(ctx, http.MethodPost, "/v1/hooks", req, &v)
}

// DeleteHook is DELETE /v1/hooks/{name}.
func (c *Client) DeleteHook(ctx context.Context, name string) (HookInfo, error) {
	var v HookInfo
	return v, c.do(ctx, http.MethodDelete, "/v1/hooks/"+url.PathEscape(name), nil, &v)
}

// ListTokens is GET /v1/tokens.
func (c *Client) ListTokens(ctx context.Context) (TokenList, error) {
	var v TokenList
	return v, c.do(ctx, http.MethodGet, "/v1/tokens", nil, &v)
}

// CreateToken is POST /v1/tokens.
func (c *Client) CreateToken(ctx context.Context, req NewToken) (TokenCreated, error) {
	var v TokenCreated
	return v, c.do(ctx, http.MethodPost, "/v1/tokens", req, &v)
}

// RevokeToken is DELETE /v1/tokens/{id}.
func (c *Client) RevokeToken(ctx context.Context, id string) (TokenInfo, error) {
	var v TokenInfo
	return v, c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(id), nil, &v)
}

// Reload is POST /v1/reload.
func (c *Client) Reload(ctx context.Context) (Reloaded, error) {
	var v Reloaded
	return v, c.do(ctx, http.MethodPost, "/v1/reload", nil, &v)
}

// DaemonStatus is GET /v1/status.
func (c *Client) DaemonStatus(ctx context.Context) (Status, error) {
	var v Status
	return v, c.do(ctx, http.MethodGet, "/v1/status", nil, &v)
}

// API is what both Admin (in-process, over the files) and Client (over
// admin.sock) offer; the CLI is written against it.
type API interface {
	ListDrafts(ctx context.Context) (DraftList, error)
	ApproveDraft(ctx context.Context, id string) (Draft, error)
	RejectDraft(ctx context.Context, id string) (Draft, error)
	ListDomains(ctx context.Context) (DomainList, error)
	AddDomain(ctx context.Context, req NewDomain) (DomainAdded, error)
	RemoveDomain(ctx context.Context, domain string, force bool) (DomainRemoved, error)
	ListMailboxes(ctx context.Context) (MailboxList, error)
	CreateMailbox(ctx context.Context, req NewMailbox) (MailboxCreated, error)
	DeleteMailbox(ctx context.Context, name string, force bool) (MailboxDeleted, error)
	ListHooks(ctx context.Context, mailbox string) (HookList, error)
	CreateHook(ctx context.Context, req HookInfo) (HookInfo, error)
	DeleteHook(ctx context.Context, name string) (HookInfo, error)
	ListTokens(ctx context.Context) (TokenList, error)
	CreateToken(ctx context.Context, req NewToken) (TokenCreated, error)
	RevokeToken(ctx context.Context, id string) (TokenInfo, error)
	Reload(ctx context.Context) (Reloaded, error)
	DaemonStatus(ctx context.Context) (Status, error)
}

var (
	_ API = (*Admin)(nil)
	_ API = (*Client)(nil)
)
