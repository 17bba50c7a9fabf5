package domains

import (
	"slices"
	"strconv"
)

// Send policy defaults (book/sending.md, "Send policy"): generous for an
// agent answering its mail, low enough that a runaway agent is stopped
// within the hour.
const (
	DefaultSendQuotaHour = 200
	DefaultSendQuotaDay  = 2000
)

// The values of send_approval.
const (
	ApprovalNone     = "none"
	ApprovalRequired = "required"
)

// SendPolicy is one layer (global, `[domain."d"]` or a mailbox) of the
// send rules (book/sending.md); a key left out means "as the layer below".
//
// nil means absent.
type SendPolicy struct {
	// Allow are recipient globs (`*@example.com`, `boss@x.org`, as
	// trusted_senders) every recipient of a send must match; an empty
	// list means anyone.
	Allow []string
	// QuotaHour and QuotaDay cap the messages a mailbox sends per hour and
	// per day; 0 means no cap.
	QuotaHour, QuotaDay *int
	// Approval is "none" or "required": with "required" every send is
	// held as a draft until the operator approves it (aimx drafts).
	//
	// The values are ApprovalNone and ApprovalRequired.
	Approval *string
}

// SendRules are the resolved rules for one mailbox.
type SendRules struct {
	Allow            []string
	QuotaHour        int
	QuotaDay         int
	ApprovalRequired bool
}

// rawSendPolicy are the keys of a SendPolicy in config.toml.
type rawSendPolicy struct {
	SendAllow     []string `toml:"send_allow"`
	SendQuotaHour *int     `toml:"send_quota_hour"`
	SendQuotaDay  *int     `toml:"send_quota_day"`
	SendApproval  *string  `toml:"send_approval"`
}

func (r rawSendPolicy) policy() SendPolicy {
	return SendPolicy{Allow: r.SendAllow, QuotaHour: r.SendQuotaHour, QuotaDay: r.SendQuotaDay, Approval: r.SendApproval}
}

// over returns p with every field set in top replacing it (replace, never
// merge: book/configuration.md).
func (p SendPolicy) over(top SendPolicy) SendPolicy {
	if top.Allow != nil {
		p.Allow = top.Allow
	}
	if top.QuotaHour != nil {
		p.QuotaHour = top.QuotaHour
	}
	if top.QuotaDay != nil {
		p.QuotaDay = top.QuotaDay
	}
	if top.Approval != nil {
		p.Approval = top.Approval
	}
	return p
}

func (p SendPolicy) clone() SendPolicy {
	p.Allow = cloneSlice(p.Allow)
	p.QuotaHour, p.QuotaDay, p.Approval = clonePtr(p.QuotaHour), clonePtr(p.QuotaDay), clonePtr(p.Approval)
	return p
}

func (p SendPolicy) equal(q SendPolicy) bool {
	return setSliceEqual(p.Allow, q.Allow) && ptrEqual(p.QuotaHour, q.QuotaHour) && ptrEqual(p.QuotaDay, q.QuotaDay) &&
		ptrEqual(p.Approval, q.Approval) && (p.Allow == nil) == (q.Allow == nil)
}

// SendRulesFor resolves a mailbox's send rules: mailbox → its domain →
// global → built-in defaults (book/sending.md, "Send policy").
func (c *Config) SendRulesFor(name string) SendRules {
	p := SendPolicy{}.over(c.Send)
	_, d := SplitName(name)
	if o, ok := c.Overrides[d]; ok {
		p = p.over(o.Send)
	}
	if m, ok := c.Mailbox(name); ok {
		p = p.over(m.Send)
	}
	r := SendRules{Allow: p.Allow, QuotaHour: DefaultSendQuotaHour, QuotaDay: DefaultSendQuotaDay}
	if p.QuotaHour != nil {
		r.QuotaHour = *p.QuotaHour
	}
	if p.QuotaDay != nil {
		r.QuotaDay = *p.QuotaDay
	}
	r.ApprovalRequired = p.Approval != nil && *p.Approval == ApprovalRequired
	return r
}

// encodeSend writes a layer's send keys.
func (e *encoder) sendPolicy(p SendPolicy) {
	if p.Allow != nil {
		e.list("send_allow", p.Allow)
	}
	if p.QuotaHour != nil {
		e.kv("send_quota_hour", strconv.Itoa(*p.QuotaHour))
	}
	if p.QuotaDay != nil {
		e.kv("send_quota_day", strconv.Itoa(*p.QuotaDay))
	}
	e.optStr("send_approval", p.Approval)
}

// checkSend validates a layer's send keys.
func (k *checker) sendPolicy(at []string, p SendPolicy) {
	k.globs(append(slices.Clone(at), "send_allow"), p.Allow)
	for _, q := range []struct {
		key string
		v   *int
	}{{"send_quota_hour", p.QuotaHour}, {"send_quota_day", p.QuotaDay}} {
		if q.v != nil && *q.v < 0 {
			k.add(append(slices.Clone(at), q.key), "%s must be 0 (no cap) or more, not %d", q.key, *q.v)
		}
	}
	if p.Approval != nil && *p.Approval != ApprovalNone && *p.Approval != ApprovalRequired {
		k.add(append(slices.Clone(at), "send_approval"), "send_approval must be %q or %q, not %q", ApprovalNone, ApprovalRequired, *p.Approval)
	}
}
