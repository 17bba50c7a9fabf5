package outbound

import (
	"testing"
	"time"

	"github.com/aimx-dev/aimx/mail/outcome"
)

func TestRetryNext(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	temp := outcome.New(451, [3]int{4, 3, 0}, outcome.FaultRemote, "try again later", nil)
	perm := outcome.New(550, [3]int{5, 1, 1}, outcome.FaultRemote, "no such user", nil)
	p := RetryPolicy{Base: 5 * time.Minute, Attempts: 4}
	cases := []struct {
		name      string
		policy    RetryPolicy
		attempts  int // before this attempt
		res       Result
		status    Status
		wait      time.Duration // 0: no next attempt
		detail    string
		wantTries int
	}{
		{"delivered", p, 0, Result{Code: 250, Enhanced: [3]int{2, 0, 0}, Text: "OK queued"}, StatusDelivered, 0, "250 2.0.0 OK queued", 1},
		{"first 4xx waits base", p, 0, Result{Err: temp}, StatusDeferred, 5 * time.Minute, "451 4.3.0 try again later", 1},
		{"second 4xx doubles", p, 1, Result{Err: temp}, StatusDeferred, 10 * time.Minute, "451 4.3.0 try again later", 2},
		{"third 4xx doubles again", p, 2, Result{Err: temp}, StatusDeferred, 20 * time.Minute, "451 4.3.0 try again later", 3},
		{"4xx on the last attempt fails", p, 3, Result{Err: temp}, StatusFailed, 0, "451 4.3.0 try again later", 4},
		{"5xx fails at once", p, 0, Result{Err: perm}, StatusFailed, 0, "550 5.1.1 no such user", 1},
		{"delivered after deferrals", p, 2, Result{Code: 250, Text: "ok"}, StatusDelivered, 0, "250 ok", 3},
		{"defaults: 5 min", RetryPolicy{}, 0, Result{Err: temp}, StatusDeferred, 5 * time.Minute, "451 4.3.0 try again later", 1},
		{"defaults: 8th wait is 128 × 5 min", RetryPolicy{}, 7, Result{Err: temp}, StatusDeferred, 640 * time.Minute, "451 4.3.0 try again later", 8},
		{"defaults: 9th attempt is the last", RetryPolicy{}, 8, Result{Err: temp}, StatusFailed, 0, "451 4.3.0 try again later", 9},
		{"huge attempt count is capped", RetryPolicy{Base: time.Hour, Attempts: 1000}, 200, Result{Err: temp}, StatusDeferred, maxRetryWait, "451 4.3.0 try again later", 201},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev := Recipient{Address: "a@b.test", Status: StatusDeferred, Attempts: tc.attempts}
			got := tc.policy.Next(prev, tc.res, TLSVerified, now)
			if got.Status != tc.status || got.Attempts != tc.wantTries || got.Detail != tc.detail {
				t.Errorf("got %s attempts %d detail %q, want %s %d %q", got.Status, got.Attempts, got.Detail, tc.status, tc.wantTries, tc.detail)
			}
			var want time.Time
			if tc.wait > 0 {
				want = now.Add(tc.wait)
			}
			if !got.NextAttempt.Equal(want) {
				t.Errorf("next attempt %v, want %v", got.NextAttempt, want)
			}
			if got.TLS != TLSVerified || !got.UpdatedAt.Equal(now) {
				t.Errorf("tls %q updated %v", got.TLS, got.UpdatedAt)
			}
		})
	}
}
