package inbound

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/outcome"
)

// backend is the go-smtp Backend: one session per greeting.
type backend struct{ s *Server }

// NewSession starts a session after HELO/EHLO (again after STARTTLS).
func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	sess := &session{s: b.s, helo: c.Hostname(), conn: trackedOf(c.Conn())}
	if ap, err := netip.ParseAddrPort(c.Conn().RemoteAddr().String()); err == nil {
		sess.remoteIP = ap.Addr().Unmap()
	}
	_, sess.tls = c.TLSConnectionState()
	sess.esmtp = sess.tls || (sess.conn != nil && sess.conn.greet != greetHELO)
	return sess, nil
}

// session is one SMTP session: it keeps the envelope and hands the data
// to the Deliverer. It holds no mail logic of its own.
type session struct {
	s        *Server
	conn     *trackedConn // nil only if the listener was not ours
	remoteIP netip.Addr
	helo     string
	esmtp    bool
	tls      bool

	tx *transaction
}

// transaction is one MAIL … DATA exchange.
type transaction struct {
	id       string
	start    time.Time
	cfg      *domains.Config
	mailFrom string
	size     int64 // SIZE= declared at MAIL (RFC 1870), 0 when none
	rcpts    []string
	rejected []string // "addr: reply" for the log
}

var _ smtp.Session = (*session)(nil)

// Mail starts a transaction with the configuration current now (book/admin.md:
// a swap applies from the next transaction).
func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.endTx(nil, nil) // a MAIL without RSET after an aborted one
	if ss.conn != nil && !ss.conn.beginTx() {
		return toSMTP(outcome.ShuttingDown())
	}
	cfg := ss.s.cfg.Registry.Current()
	ss.tx = &transaction{id: ss.s.cfg.NewID(), start: ss.s.cfg.Now(), cfg: cfg, mailFrom: from}
	if cfg == nil {
		e := outcome.LocalError(errors.New("no configuration"))
		ss.endTx(e, nil)
		return toSMTP(e)
	}
	if opts != nil {
		ss.tx.size = opts.Size
	}
	// RFC 1870 6.1: a declared size over the limit is refused at MAIL.
	if limit := cfg.SMTP.MaxMessageBytes; opts != nil && limit > 0 && opts.Size > limit {
		e := outcome.MessageTooBig(fmt.Errorf("declared SIZE=%d over the %d limit", opts.Size, limit))
		ss.endTx(e, nil)
		return toSMTP(e)
	}
	return nil
}

// Rcpt accepts a recipient that resolves to a mailbox (book/smtp.md).
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	tx := ss.tx
	if tx == nil {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "MAIL first"}
	}
	if e := ss.checkRcpt(tx, to); e != nil {
		tx.rejected = append(tx.rejected, to+": "+e.Reply())
		return toSMTP(e)
	}
	tx.rcpts = append(tx.rcpts, to)
	return nil
}

func (ss *session) checkRcpt(tx *transaction, to string) *outcome.Error {
	// RFC 5321 4.5.3.1.10: 452 for recipients over the limit.
	if limit := tx.cfg.SMTP.MaxRecipients; limit > 0 && len(tx.rcpts) >= limit {
		return outcome.TooManyRecipients(fmt.Errorf("over max_recipients %d", limit))
	}
	_, err := tx.cfg.ResolveRecipient(to)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, domains.ErrDomainNotConfigured):
		return outcome.RelayDenied(err)
	default:
		return outcome.UserUnknown(err)
	}
}

// Data spools the message (bounded by the live max_message_bytes) and
// hands it to the Deliverer; its outcome is the reply. The bytes go to a
// file as they arrive (book/smtp.md "Spooling"), under a deadline that
// grows with the size (dataDeadline).
func (ss *session) Data(r io.Reader) error {
	tx := ss.tx
	if tx == nil || len(tx.rcpts) == 0 {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "RCPT first"}
	}
	sp, err := ss.s.cfg.Deliverer.NewSpool()
	if err != nil {
		e := outcome.LocalError(err)
		ss.endTx(e, &Outcome{})
		return toSMTP(e)
	}
	defer func() { _ = sp.Close() }() // unnamed files: closing removes them
	limit := tx.cfg.SMTP.MaxMessageBytes
	var lr io.Reader = r
	if ss.conn != nil {
		ss.conn.beginData(tx.size)
		defer ss.conn.endData()
		lr = &deadlineReader{r: r, c: ss.conn}
	}
	if limit > 0 {
		lr = io.LimitReader(lr, limit+1)
	}
	if _, err := io.CopyBuffer(sp, lr, make([]byte, 32<<10)); err != nil {
		e := ss.readError(err)
		ss.endTx(e, &Outcome{Size: int(sp.Size())})
		return toSMTP(e)
	}
	if limit > 0 && sp.Size() > limit {
		e := outcome.MessageTooBig(fmt.Errorf("message over the %d byte limit", limit))
		ss.endTx(e, &Outcome{Size: int(sp.Size())})
		return toSMTP(e)
	}
	env := Envelope{
		Config:     tx.cfg,
		RemoteIP:   ss.remoteIP,
		Helo:       ss.helo,
		ESMTP:      ss.esmtp,
		MailFrom:   tx.mailFrom,
		Recipients: tx.rcpts,
		TLS:        ss.tls,
		ID:         tx.id,
	}
	out, err := ss.s.cfg.Deliverer.DeliverSpool(ss.s.baseCtx, env, sp)
	if err != nil {
		e, ok := outcome.As(err)
		if !ok {
			e = outcome.LocalError(err)
		}
		ss.endTx(e, &out)
		return toSMTP(e)
	}
	ss.endTx(nil, &out)
	// go-smtp writes an *SMTPError's code as given, so a 250 carries our
	// text (with the transaction id) instead of its "OK: queued".
	return &smtp.SMTPError{Code: out.Code, EnhancedCode: smtp.EnhancedCode(out.Enhanced), Message: out.Text}
}

// readError is the reply for DATA that could not be read whole.
func (ss *session) readError(err error) *outcome.Error {
	var se *smtp.SMTPError
	switch {
	case errors.As(err, &se) && se.Code == smtp.ErrDataTooLarge.Code:
		return outcome.MessageTooBig(err)
	case errors.Is(err, smtp.ErrTooLongLine):
		// L1 (book/smtp.md): a line over the limit (RFC 5321 4.5.3.1.6)
		// is the message's fault and fails the same way on every retry,
		// so the answer is permanent. go-smtp cannot find the end of the
		// data after it, so the connection closes after this reply
		// instead of a second "500" from go-smtp.
		if ss.conn != nil {
			ss.conn.closeAfterReply()
		}
		return outcome.New(554, [3]int{5, 6, 0}, outcome.FaultUser, "Message rejected: line too long", err)
	}
	if e, ok := outcome.As(err); ok {
		return e
	}
	var spoolErr *spoolError
	if errors.As(err, &spoolErr) {
		return outcome.LocalError(err)
	}
	return outcome.New(451, [3]int{4, 3, 0}, outcome.FaultUser, "error reading message data", err)
}

// Reset ends the transaction (RSET, a new greeting, or after DATA).
func (ss *session) Reset() { ss.endTx(nil, nil) }

// Logout ends the session (QUIT, disconnect, STARTTLS).
func (ss *session) Logout() error {
	ss.endTx(nil, nil)
	return nil
}

// endTx logs the open transaction, if any, and closes it. A transaction
// ended without an outcome (RSET, QUIT, disconnect) is logged as aborted.
func (ss *session) endTx(e *outcome.Error, out *Outcome) {
	tx := ss.tx
	if tx == nil {
		return
	}
	ss.tx = nil
	ss.logTx(tx, e, out)
	if ss.conn != nil {
		ss.conn.endTx()
	}
}

// toSMTP turns an outcome into go-smtp's reply error: generic text only.
func toSMTP(e *outcome.Error) *smtp.SMTPError {
	return &smtp.SMTPError{Code: e.Code, EnhancedCode: smtp.EnhancedCode(e.Enhanced), Message: e.Text}
}
