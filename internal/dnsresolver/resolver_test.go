package dnsresolver

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/miekg/dns"
)

// fakeClock is a settable clock for cache expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTest(t *testing.T, cfg Config) (*Resolver, *dnstest.Server, *fakeClock) {
	t.Helper()
	srv := dnstest.Start(t)
	clock := newClock()
	cfg.Servers = append([]string{srv.Addr()}, cfg.Servers...)
	cfg.Now = clock.Now
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, srv, clock
}

func TestLookupTXTJoinsAndCaches(t *testing.T) {
	t.Parallel()
	r, srv, clock := newTest(t, Config{})
	long := "v=DKIM1; k=rsa; p=" + strings.Repeat("A", 400)
	srv.SetTTL(60)
	srv.SetTXT("k.example.net", long, "second")
	ctx := context.Background()

	got, err := r.LookupTXT(ctx, "K.Example.NET.")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != long || got[1] != "second" {
		t.Fatalf("TXT = %q", got)
	}
	if _, err := r.LookupTXT(ctx, "k.example.net"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Queries("k.example.net", dns.TypeTXT); n != 1 {
		t.Fatalf("queries after a cache hit = %d, want 1", n)
	}
	clock.Advance(59 * time.Second)
	if _, err := r.LookupTXT(ctx, "k.example.net"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Queries("k.example.net", dns.TypeTXT); n != 1 {
		t.Fatalf("queries before TTL expiry = %d, want 1", n)
	}
	clock.Advance(time.Second)
	if _, err := r.LookupTXT(ctx, "k.example.net"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Queries("k.example.net", dns.TypeTXT); n != 2 {
		t.Fatalf("queries after TTL expiry = %d, want 2", n)
	}
}

func TestLookupTXTRawBytes(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	want := "v=spf1 exp=\"quoted\" back\\slash Zoë \x01 -all"
	srv.SetTXT("raw.example.net", want)
	got, err := r.LookupTXT(context.Background(), "raw.example.net")
	if err != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("TXT = %q, %v; want %q", got, err, want)
	}
}

func TestUnescapeTXT(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`plain`:     "plain",
		`a\"b`:      `a"b`,
		`a\\b`:      `a\b`,
		`\195\171`:  "\xc3\xab",
		`\999`:      "999",
		`trailing\`: `trailing\`,
		`\12x`:      "12x",
		`\065\066C`: "ABC",
	}
	for in, want := range tests {
		if got := unescapeTXT(in); got != want {
			t.Errorf("unescapeTXT(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaxTTLCapsPositiveCache(t *testing.T) {
	t.Parallel()
	r, srv, clock := newTest(t, Config{MaxTTL: 10 * time.Second})
	srv.SetTTL(86400)
	srv.SetTXT("a.example.net", "x")
	for range 2 {
		if _, err := r.LookupTXT(context.Background(), "a.example.net"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Second)
	}
	if n := srv.Queries("a.example.net", dns.TypeTXT); n != 2 {
		t.Fatalf("queries = %d, want 2 (MaxTTL must cap a 1-day TTL)", n)
	}
}

func TestZeroTTLNotCached(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	srv.SetTTL(0)
	srv.SetTXT("z.example.net", "x")
	for range 2 {
		if _, err := r.LookupTXT(context.Background(), "z.example.net"); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Queries("z.example.net", dns.TypeTXT); n != 2 {
		t.Fatalf("queries = %d, want 2", n)
	}
}

func TestLookupMXSorted(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	srv.SetMX("example.net", dnstest.MX{Pref: 20, Host: "b.example.net"}, dnstest.MX{Pref: 10, Host: "A.example.net"})
	got, err := r.LookupMX(context.Background(), "example.net")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Host != "a.example.net." || got[0].Pref != 10 || got[1].Host != "b.example.net." {
		t.Fatalf("MX = %+v %+v", got[0], got[1])
	}
	got[0].Host = "mutated"
	again, err := r.LookupMX(context.Background(), "example.net")
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Host != "a.example.net." {
		t.Fatalf("a caller's change leaked into the cache: %q", again[0].Host)
	}
}

func TestLookupIP(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	srv.SetIP("both.example.net", "192.0.2.1", "2001:db8::1")
	srv.SetIP("v6.example.net", "2001:db8::2")
	srv.SetBehavior("broken.example.net", dnstest.ServFail)
	ctx := context.Background()
	tests := []struct {
		name     string
		want     []string
		notFound bool
	}{
		{"both.example.net", []string{"192.0.2.1", "2001:db8::1"}, false},
		{"v6.example.net", []string{"2001:db8::2"}, false},
		{"198.51.100.7", []string{"198.51.100.7"}, false},
		{"none.example.net", nil, true},
		{"broken.example.net", nil, false},
	}
	for _, tc := range tests {
		got, err := r.LookupIP(ctx, tc.name)
		var strs []string
		for _, ip := range got {
			strs = append(strs, ip.String())
		}
		if strings.Join(strs, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %v, want %v", tc.name, strs, tc.want)
		}
		switch {
		case tc.want != nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == nil && tc.notFound && !errors.Is(err, ErrNotFound):
			t.Errorf("%s: err %v, want ErrNotFound", tc.name, err)
		case tc.want == nil && !tc.notFound && !errors.Is(err, ErrTemporary):
			t.Errorf("%s: err %v, want ErrTemporary", tc.name, err)
		}
	}
}

func TestNegativeCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		soaMin    uint32
		maxNeg    time.Duration
		stillHeld time.Duration // cached at this age
		expired   time.Duration // re-queried at this age
	}{
		{"honours SOA minimum", 30, 0, 29 * time.Second, 30 * time.Second},
		{"caps a long SOA minimum", 3600, 2 * time.Minute, 119 * time.Second, 2 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, srv, clock := newTest(t, Config{MaxNegativeTTL: tc.maxNeg})
			srv.SetNegativeTTL(tc.soaMin)
			ctx := context.Background()
			lookup := func() {
				t.Helper()
				_, err := r.LookupTXT(ctx, "missing.example.net")
				var e *Error
				if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrTemporary) || !errors.As(err, &e) || !e.NXDomain {
					t.Fatalf("err = %v, want NXDOMAIN", err)
				}
			}
			lookup()
			clock.Advance(tc.stillHeld)
			lookup()
			if n := srv.Queries("missing.example.net", dns.TypeTXT); n != 1 {
				t.Fatalf("queries at %v = %d, want 1", tc.stillHeld, n)
			}
			clock.Advance(tc.expired - tc.stillHeld)
			lookup()
			if n := srv.Queries("missing.example.net", dns.TypeTXT); n != 2 {
				t.Fatalf("queries at %v = %d, want 2", tc.expired, n)
			}
		})
	}
}

func TestNoData(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	srv.SetIP("host.example.net", "192.0.2.9")
	for range 2 {
		_, err := r.LookupTXT(context.Background(), "host.example.net")
		var e *Error
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.NXDomain {
			t.Fatalf("err = %v, want NODATA", err)
		}
	}
	if n := srv.Queries("host.example.net", dns.TypeTXT); n != 1 {
		t.Fatalf("NODATA not cached: %d queries", n)
	}
}

func TestTemporaryFailuresNotCached(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	for _, b := range []dnstest.Behavior{dnstest.ServFail, dnstest.Refused} {
		srv.SetBehavior("bad.example.net", b)
		srv.ResetQueries()
		for range 2 {
			_, err := r.LookupTXT(context.Background(), "bad.example.net")
			if !errors.Is(err, ErrTemporary) || errors.Is(err, ErrNotFound) {
				t.Fatalf("behavior %d: err = %v, want ErrTemporary", b, err)
			}
		}
		if n := srv.Queries("bad.example.net", dns.TypeTXT); n != 2 {
			t.Fatalf("behavior %d: queries = %d, want 2 (temporary failures are not cached)", b, n)
		}
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{Timeout: 200 * time.Millisecond})
	srv.SetBehavior("slow.example.net", dnstest.Silent)
	start := time.Now()
	_, err := r.LookupTXT(context.Background(), "slow.example.net")
	if !errors.Is(err, ErrTemporary) {
		t.Fatalf("err = %v, want ErrTemporary", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap the deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("lookup took %v", d) // loose backstop only
	}
}

func TestCallerContextIsHonoured(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{Timeout: time.Minute})
	srv.SetBehavior("slow.example.net", dnstest.Silent)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.LookupTXT(ctx, "slow.example.net"); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrTemporary) {
		t.Fatalf("cancelled ctx: err = %v", err)
	}
	if n := srv.TotalQueries(); n != 0 {
		t.Fatalf("a cancelled lookup sent %d queries", n)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.LookupTXT(ctx, "slow.example.net")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
	case <-time.After(20 * time.Second): // loose backstop: the lookup timeout is a minute
		t.Fatal("lookup ignored the caller's deadline")
	}
}

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	srv.SetTruncateUDP(true)
	srv.SetTXT("big.example.net", "payload")
	got, err := r.LookupTXT(context.Background(), "big.example.net")
	if err != nil || len(got) != 1 || got[0] != "payload" {
		t.Fatalf("TXT = %q, %v", got, err)
	}
	if n := srv.Queries("big.example.net", dns.TypeTXT); n != 2 {
		t.Fatalf("queries = %d, want 2 (UDP then TCP)", n)
	}
}

func TestNextServerAfterFailure(t *testing.T) {
	t.Parallel()
	bad := dnstest.Start(t)
	bad.SetBehavior("a.example.net", dnstest.ServFail)
	good := dnstest.Start(t)
	good.SetTXT("a.example.net", "ok")
	r, err := New(Config{Servers: []string{bad.Addr(), good.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.LookupTXT(context.Background(), "a.example.net")
	if err != nil || len(got) != 1 || got[0] != "ok" {
		t.Fatalf("TXT = %q, %v", got, err)
	}
	if bad.TotalQueries() != 1 || good.TotalQueries() != 1 {
		t.Fatalf("queries bad=%d good=%d", bad.TotalQueries(), good.TotalQueries())
	}
}

func TestLostPacketRetried(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{AttemptTimeout: 100 * time.Millisecond, Timeout: 10 * time.Second})
	srv.SetTXT("lossy.example.net", "ok")
	srv.DropNext("lossy.example.net", 1)
	got, err := r.LookupTXT(context.Background(), "lossy.example.net")
	if err != nil || len(got) != 1 || got[0] != "ok" {
		t.Fatalf("TXT = %q, %v", got, err)
	}
	if n := srv.Queries("lossy.example.net", dns.TypeTXT); n != 2 {
		t.Fatalf("queries = %d, want 2 (one lost, one retried)", n)
	}
}

func TestSilentServerSkipped(t *testing.T) {
	t.Parallel()
	silent := dnstest.Start(t)
	silent.SetBehavior("a.example.net", dnstest.Silent)
	good := dnstest.Start(t)
	good.SetTXT("a.example.net", "ok")
	r, err := New(Config{Servers: []string{silent.Addr(), good.Addr()}, AttemptTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.LookupTXT(context.Background(), "a.example.net")
	if err != nil || len(got) != 1 || got[0] != "ok" {
		t.Fatalf("TXT = %q, %v", got, err)
	}
}

func TestCNAMEFollowed(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	srv.SetCNAME("alias.example.net", "mid.example.net")
	srv.SetCNAME("mid.example.net", "real.example.net")
	srv.SetTXT("real.example.net", "v=spf1 -all")
	srv.SetCNAME("dangling.example.net", "gone.example.net")
	got, err := r.LookupTXT(context.Background(), "alias.example.net")
	if err != nil || len(got) != 1 || got[0] != "v=spf1 -all" {
		t.Fatalf("TXT via CNAME = %q, %v", got, err)
	}
	if _, err := r.LookupTXT(context.Background(), "dangling.example.net"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dangling CNAME: err = %v", err)
	}
}

func TestCacheBounded(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{MaxEntries: 2})
	for _, n := range []string{"a", "b", "c", "d"} {
		srv.SetTXT(n+".example.net", n)
		if _, err := r.LookupTXT(context.Background(), n+".example.net"); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.cache.len(); n > 2 {
		t.Fatalf("cache holds %d entries, max 2", n)
	}
}

func TestConcurrentLookups(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	srv.SetTXT("c.example.net", "v")
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			got, err := r.LookupTXT(context.Background(), "c.example.net")
			if err != nil || len(got) != 1 || got[0] != "v" {
				t.Errorf("TXT = %q, %v", got, err)
			}
		})
	}
	wg.Wait()
	if n := srv.Queries("c.example.net", dns.TypeTXT); n < 1 || n > 16 {
		t.Fatalf("queries = %d", n)
	}
}

func TestNewRejectsBadServers(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"nohost", ":53", "1.2.3.4:0", "1.2.3.4:x", "[::1]:99999"} {
		if _, err := New(Config{Servers: []string{s}}); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	for _, s := range []string{"127.0.0.1:5353", "192.0.2.1", "::1", "ns.example.net:53"} {
		if _, err := New(Config{Servers: []string{s}}); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestIsNotFound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{notFound("a", "TXT", true), true},
		{temporary("a", "TXT", nil), false},
		{&net.DNSError{IsNotFound: true}, true},
		{&net.DNSError{IsTemporary: true}, false},
		{errors.New("x"), false},
	}
	for _, tc := range tests {
		if got := IsNotFound(tc.err); got != tc.want {
			t.Errorf("IsNotFound(%v) = %v", tc.err, got)
		}
	}
}
