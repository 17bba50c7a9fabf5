package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// Mailboxes as MCP resources (book/mcp.md, "Waiting for mail"):
// aimx://mailbox/<address> reads as the mailbox's counts and newest inbox
// emails, and a client subscribed to it gets notifications/resources/updated
// whenever mail is stored in it. Subscriptions need a session the server can
// write to: resources/subscribe on a 2025-11-25 session (streamable HTTP,
// aimx.sock or TCP, and SSE), or subscriptions/listen with
// resourceSubscriptions on 2026-07-28. mcp-go keeps no subscription state
// for its own sessions, so this file does, from its hooks.

// MailboxURIPrefix starts every mailbox resource's URI.
const MailboxURIPrefix = "aimx://mailbox/"

// newestInResource is how many inbox emails a mailbox resource shows.
const newestInResource = 20

// MailboxResource is what resources/read returns for a mailbox, as JSON.
type MailboxResource struct {
	operations.MailboxRow
	Newest []EmailSummary `json:"newest"`
}

// mailSubscriptions tracks the mailbox subscriptions and the waits of
// each MCP session. Its methods are safe on a nil receiver (no new-mail
// broadcast: nothing to track).
type mailSubscriptions struct {
	s *Server

	fm fmCache // the frontmatter of new mail, shared by the waits

	mu    sync.Mutex
	byBox map[string]map[server.ClientSession]*mailSub // configured mailbox name → session
	waits map[string]map[*int]context.CancelFunc       // session id → waits in flight
}

// mailSub is one session's subscription to one mailbox.
type mailSub struct {
	caller Caller
	uris   map[string]bool // as the client wrote them: notifications name them back
	listen bool            // a subscriptions/listen stream (2026-07-28)
}

// newMailOptions are the server options of the resource subscriptions;
// none without a new-mail broadcast.
func (s *Server) newMailOptions() []server.ServerOption {
	if s.deps.NewMail == nil {
		return nil
	}
	m := &mailSubscriptions{s: s, byBox: map[string]map[server.ClientSession]*mailSub{}, waits: map[string]map[*int]context.CancelFunc{}}
	s.subs = m
	h := &server.Hooks{}
	h.AddAfterSubscribe(func(ctx context.Context, _ any, req *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
		m.subscribe(ctx, req.Params.URI, false)
	})
	h.AddAfterUnsubscribe(func(ctx context.Context, _ any, req *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
		m.unsubscribe(server.ClientSessionFromContext(ctx), req.Params.URI)
	})
	h.AddBeforeSubscriptionsListen(func(ctx context.Context, _ any, req *mcp.SubscriptionsListenRequest) {
		for _, uri := range req.Params.Notifications.ResourceSubscriptions {
			m.subscribe(ctx, uri, true)
		}
		// The stream lasts as long as the request; the session (an SSE
		// one) may outlive it.
		sess := server.ClientSessionFromContext(ctx)
		context.AfterFunc(ctx, func() { m.dropListen(sess) })
	})
	h.AddOnUnregisterSession(func(_ context.Context, sess server.ClientSession) { m.drop(sess) })
	return []server.ServerOption{server.WithResourceCapabilities(true, false), server.WithHooks(h)}
}

// addMailResources registers the mailbox resource template and starts
// notifying subscribers; nothing without a new-mail broadcast.
func (s *Server) addMailResources() {
	if s.subs == nil {
		return
	}
	s.mcp.AddResourceTemplate(mcp.NewResourceTemplate(MailboxURIPrefix+"{+address}", "mailbox",
		mcp.WithTemplateDescription("A mailbox you can use: its counts and newest inbox emails as JSON. Subscribe to it to be notified (notifications/resources/updated) when email is stored in it; then read it, or call email_list or email_wait."),
		mcp.WithTemplateMIMEType("application/json"),
	), s.readMailboxResource)
	s.deps.NewMail.Watch(s.subs.published)
	s.deps.NewMail.Watch(s.prefetchNewMail)
}

// mailboxOfURI resolves a mailbox resource URI for c: the mailbox, or the
// refusal a missing one gets (a mailbox c may not see answers the same).
func mailboxOfURI(cfg *domains.Config, c Caller, uri string) (domains.Mailbox, error) {
	name, ok := strings.CutPrefix(uri, MailboxURIPrefix)
	if !ok || name == "" {
		return domains.Mailbox{}, errorf("%q is not a mailbox resource; mailbox URIs look like %ssupport@example.com.", cleanHeader(uri), MailboxURIPrefix)
	}
	return visibleMailbox(cfg, c, name)
}

// readMailboxResource answers resources/read of a mailbox.
func (s *Server) readMailboxResource(ctx context.Context, req mcp.ReadResourceRequest) (out []mcp.ResourceContents, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.deps.Panics.Recovered(s.deps.Log, "mcp resources/read", p)
			out, err = nil, errors.New(internalError("resources/read"))
		}
	}()
	c, ok := CallerFrom(ctx)
	if !ok {
		return nil, errNoCaller
	}
	cfg := s.deps.Registry.Current()
	if cfg == nil {
		return nil, errorf("the server has no configuration loaded; ask the operator to check the aimx log.")
	}
	m, err := mailboxOfURI(cfg, c, req.Params.URI)
	if err != nil {
		return nil, err
	}
	res, err := s.mailboxResource(ctx, cfg, m)
	if err != nil {
		s.deps.Log.Warn().Err(err).Str("mailbox", m.Name).Str("owner", c.Owner).Msg("mailbox resource read failed")
		return nil, errors.New(internalError("resources/read"))
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, errors.New(internalError("resources/read"))
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "application/json", Text: string(b)}}, nil
}

// mailboxResource is m's counts and newest inbox emails.
func (s *Server) mailboxResource(ctx context.Context, cfg *domains.Config, m domains.Mailbox) (*MailboxResource, error) {
	rows, err := operations.Rows(ctx, s.deps.Store, cfg, func(x domains.Mailbox) bool { return x.Name == m.Name })
	if err != nil || len(rows) != 1 {
		return nil, errors.Join(err, errors.New("mailbox row missing"))
	}
	res := &MailboxResource{MailboxRow: rows[0], Newest: []EmailSummary{}}
	page, err := s.deps.Store.List(ctx, storage.ListQuery{Mailbox: domains.MailboxRef(m.Name), Folder: storage.Inbox, Limit: newestInResource})
	if errors.Is(err, storage.ErrNotFound) {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	w := &waiter{seen: map[string]bool{}}
	for _, msg := range page.Messages {
		w.add(m.Name, msg.ID, msg.Frontmatter)
	}
	for _, r := range w.rows {
		res.Newest = append(res.Newest, r.EmailSummary)
	}
	return res, nil
}

// subscribe records a subscription of the request's session, when the
// caller may see the mailbox. One it may not see, or that does not exist,
// is acknowledged by mcp-go all the same and never notifies: the two are
// not told apart (book/mcp.md, "Who sees what").
func (m *mailSubscriptions) subscribe(ctx context.Context, uri string, listen bool) {
	sess := server.ClientSessionFromContext(ctx)
	c, ok := CallerFrom(ctx)
	cfg := m.s.deps.Registry.Current()
	if sess == nil || !ok || cfg == nil {
		return
	}
	mb, err := mailboxOfURI(cfg, c, uri)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.byBox[mb.Name]
	if set == nil {
		set = map[server.ClientSession]*mailSub{}
		m.byBox[mb.Name] = set
	}
	sub := set[sess]
	if sub == nil {
		sub = &mailSub{caller: c, uris: map[string]bool{}, listen: listen}
		set[sess] = sub
	}
	sub.uris[uri] = true
}

// unsubscribe removes one URI of a session's subscriptions.
func (m *mailSubscriptions) unsubscribe(sess server.ClientSession, uri string) {
	if sess == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for box, set := range m.byBox {
		if sub := set[sess]; sub != nil && sub.uris[uri] {
			delete(sub.uris, uri)
			if len(sub.uris) == 0 {
				delete(set, sess)
			}
			if len(set) == 0 {
				delete(m.byBox, box)
			}
		}
	}
}

// drop forgets a session that ended: its subscriptions, and its waits,
// which are cancelled (an SSE call's context outlives its client).
func (m *mailSubscriptions) drop(sess server.ClientSession) {
	if m == nil || sess == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for box, set := range m.byBox {
		delete(set, sess)
		if len(set) == 0 {
			delete(m.byBox, box)
		}
	}
	if id := sess.SessionID(); id != "" {
		for _, cancel := range m.waits[id] {
			cancel()
		}
		delete(m.waits, id)
	}
}

// dropListen forgets the subscriptions a subscriptions/listen stream of
// the session made, when the stream ends.
func (m *mailSubscriptions) dropListen(sess server.ClientSession) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for box, set := range m.byBox {
		if sub := set[sess]; sub != nil && sub.listen {
			delete(set, sess)
		}
		if len(set) == 0 {
			delete(m.byBox, box)
		}
	}
}

// subscriptions counts the recorded subscriptions (tests).
func (m *mailSubscriptions) subscriptions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, set := range m.byBox {
		n += len(set)
	}
	return n
}

// bindWait returns ctx cancelled also when the call's session ends, and
// the function that releases it when the wait returns.
func (m *mailSubscriptions) bindWait(ctx context.Context) (context.Context, func()) {
	sess := server.ClientSessionFromContext(ctx)
	if m == nil || sess == nil || sess.SessionID() == "" {
		return ctx, func() {}
	}
	id := sess.SessionID()
	ctx, cancel := context.WithCancel(ctx)
	ref := new(int)
	m.mu.Lock()
	if m.waits[id] == nil {
		m.waits[id] = map[*int]context.CancelFunc{}
	}
	m.waits[id][ref] = cancel
	m.mu.Unlock()
	return ctx, func() {
		m.mu.Lock()
		delete(m.waits[id], ref)
		if len(m.waits[id]) == 0 {
			delete(m.waits, id)
		}
		m.mu.Unlock()
		cancel()
	}
}

// published notifies the sessions subscribed to the event's mailbox. It
// runs in the bus's Publish, inside the SMTP transaction: every send is
// non-blocking (a session whose queue is full misses the notification; a
// subscriber reads the mailbox anyway when it hears of the next one).
func (m *mailSubscriptions) published(ev mailbus.Event) {
	type target struct {
		sess   server.ClientSession
		caller Caller
		uris   []string
		listen bool
	}
	m.mu.Lock()
	var targets []target
	for sess, sub := range m.byBox[ev.Mailbox] {
		t := target{sess: sess, caller: sub.caller, listen: sub.listen}
		for u := range sub.uris {
			t.uris = append(t.uris, u)
		}
		targets = append(targets, t)
	}
	m.mu.Unlock()
	if len(targets) == 0 {
		return
	}
	cfg := m.s.deps.Registry.Current()
	if cfg == nil {
		return
	}
	mb, ok := cfg.Mailboxes[ev.Mailbox]
	for _, t := range targets {
		if !ok || !t.caller.seesMailbox(mb) {
			continue // deleted or given away since the subscription
		}
		for _, uri := range t.uris {
			params := map[string]any{"uri": uri}
			if !t.listen {
				if err := m.s.mcp.SendNotificationToSpecificClient(t.sess.SessionID(), mcp.MethodNotificationResourceUpdated, params); errors.Is(err, server.ErrSessionNotFound) {
					m.drop(t.sess)
				}
				continue
			}
			n := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{
				Method: mcp.MethodNotificationResourceUpdated, Params: mcp.NotificationParams{AdditionalFields: params}}}
			select {
			case t.sess.NotificationChannel() <- n:
			default:
			}
		}
	}
}
