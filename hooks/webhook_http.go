package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/aimx-dev/aimx/domains"
)

// DefaultWebhookTimeout bounds one webhook POST, from dial to the end of
// the response (book/webhooks.md). The Standard Webhooks spec suggests
// 15 to 30 s; a delivery holds a hook worker, so aimx waits 10 s.
const DefaultWebhookTimeout = 10 * time.Second

// maxWebhookResponseBytes is how much of a receiver's response is read
// (and discarded) before the connection is closed.
const maxWebhookResponseBytes = 64 << 10

// webhookUserAgent names aimx to the receiver.
const webhookUserAgent = "aimx-webhooks/1"

// newWebhookClient is the HTTP client of webhook deliveries
// (book/webhooks.md): no proxy, no redirects, no keep-alive, a time limit
// on the whole exchange, and a dialer that checks the address it is about
// to connect to, after DNS, so a name that resolves (or is rebound) to a
// loopback, private, link-local or unspecified address is refused unless
// allowPrivate says the operator allows it at that moment.
func newWebhookClient(timeout time.Duration, allowPrivate func() bool) *http.Client {
	dialer := &net.Dialer{
		Timeout: timeout,
		// Control runs for every connection attempt with the resolved
		// IP, after the lookup: the check cannot be raced by DNS.
		Control: func(_, address string, _ syscall.RawConn) error {
			return checkDialAddr(address, allowPrivate())
		},
	}
	return &http.Client{
		Transport: &http.Transport{
			// Never a proxy from the environment: the dial check must see
			// the receiver's own address.
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: maxWebhookResponseBytes,
			// Every delivery dials, so every delivery is checked against
			// the setting of the moment.
			DisableKeepAlives: true,
			ForceAttemptHTTP2: true,
		},
		Timeout: timeout,
		// Standard Webhooks, "Delivery success and failure": a 3xx is a
		// failure, and redirects are not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkDialAddr refuses a connection to address ("ip:port") unless the
// IP may be reached (domains.WebhookAddrAllowed).
func checkDialAddr(address string, allowPrivate bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("webhook dial %q: %w", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("webhook dial %q: %w", address, err)
	}
	if !domains.WebhookAddrAllowed(ip, allowPrivate) {
		return fmt.Errorf("webhook dial %s: %w", ip, domains.ErrWebhookAddress)
	}
	return nil
}

// signWebhook is the Standard Webhooks symmetric signature ("Signature
// scheme"): `v1,` and the base64 of HMAC-SHA256 over `id.timestamp.body`,
// keyed with the decoded secret.
func signWebhook(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// postResult is what one delivery attempt got.
type postResult struct {
	// status is the response's status code, 0 when there was none.
	status int
	// retryAfter is the receiver's Retry-After, 0 when absent.
	retryAfter time.Duration
	// err is why the attempt failed before a response: refused address,
	// dial, TLS, timeout. It never holds the URL (which may carry a
	// token).
	err error
}

// ok reports a 2xx response (Standard Webhooks: success).
func (r postResult) ok() bool { return r.err == nil && r.status >= 200 && r.status <= 299 }

// postWebhook makes one signed delivery attempt of body to w at time at,
// with id as the webhook-id.
func (s *Scheduler) postWebhook(ctx context.Context, w domains.Webhook, id string, at time.Time, body []byte) postResult {
	key, err := domains.WebhookKey(w.Secret)
	if err != nil {
		return postResult{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return postResult{err: errors.New("webhook url does not make a request")}
	}
	ts := at.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", webhookUserAgent)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", signWebhook(key, id, ts, body))
	resp, err := s.webhookClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return postResult{err: err}
	}
	defer resp.Body.Close()
	// The response is read only so the exchange ends cleanly; at most
	// maxWebhookResponseBytes of it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponseBytes))
	return postResult{status: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"), at)}
}

// retryAfter reads a Retry-After header (RFC 9110 10.2.3): seconds or an
// HTTP date; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
