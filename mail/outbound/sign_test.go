package outbound

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/aimx-dev/aimx/mail/auth"
	"github.com/emersion/go-msgauth/dkim"
)

// testKeys is the key store of testdata/dkim: a.test has an RSA and an
// Ed25519 key, b.test an RSA key only.
func testKeys(t *testing.T, domain string) *dkimkey.KeySet {
	t.Helper()
	set, err := dkimkey.NewStore("testdata").LoadSet(domain)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// publish serves a key set's TXT records under selector.
func publish(t *testing.T, srv *dnstest.Server, set *dkimkey.KeySet, selector string) {
	t.Helper()
	for _, k := range []*dkimkey.Key{set.RSA, set.Ed25519} {
		if k == nil {
			continue
		}
		name, value, err := dkimkey.TXTRecord(set.Domain, selector, k.Public())
		if err != nil {
			t.Fatal(err)
		}
		srv.SetTXT(name, value)
	}
}

// resolverFor is the project's resolver pointed at srv.
func resolverFor(t *testing.T, srv *dnstest.Server) *dnsresolver.Resolver {
	t.Helper()
	res, err := dnsresolver.New(dnsresolver.Config{Servers: []string{srv.Addr()}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// msgauthVerify verifies with go-msgauth, keys looked up in srv.
func msgauthVerify(t *testing.T, res *dnsresolver.Resolver, msg []byte) []*dkim.Verification {
	t.Helper()
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return res.LookupTXT(context.Background(), name) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return verifs
}

// ourVerify verifies with mail/auth, the verifier inbound mail goes through.
func ourVerify(t *testing.T, res *dnsresolver.Resolver, msg []byte) auth.Result {
	t.Helper()
	v, err := auth.New(auth.Config{Resolver: res, Intn: func(int) int { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(context.Background(), auth.Input{Raw: msg, RemoteIP: net.IPv4(192, 0, 2, 1), Helo: "mx.example.org", MailFrom: "x@example.org"})
}

// sigTags reads the tags of the DKIM-Signature fields of msg, in order.
func sigTags(t *testing.T, msg []byte) []map[string]string {
	t.Helper()
	var out []map[string]string
	head := headerBlock(msg)
	for _, f := range splitFields(head) {
		name, value, _ := strings.Cut(f, ":")
		if !strings.EqualFold(name, "DKIM-Signature") {
			continue
		}
		tags := map[string]string{}
		for _, kv := range strings.Split(value, ";") {
			k, v, ok := strings.Cut(kv, "=")
			if ok {
				tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
			}
		}
		out = append(out, tags)
	}
	return out
}

// splitFields splits a header block into unfolded fields.
func splitFields(head string) []string {
	var fields []string
	for _, line := range strings.Split(strings.TrimSuffix(head, "\r\n"), "\r\n") {
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(fields) > 0 {
			fields[len(fields)-1] += "\r\n" + line
			continue
		}
		fields = append(fields, line)
	}
	return fields
}

func composeFrom(t *testing.T, from string) []byte {
	t.Helper()
	req := sampleRequest(FormatMarkdown, true)
	req.From = Address{Name: "Sender", Addr: from}
	req.InReplyTo = "orig@b.test"
	out, err := testComposer().Compose(req)
	if err != nil {
		t.Fatal(err)
	}
	return out.Raw
}

// TestSignTwoDomains signs for two domains, each with its own key and
// selector, and verifies both with go-msgauth and with mail/auth against an
// in-process DNS server publishing dkimkey's TXT records.
func TestSignTwoDomains(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t)
	res := resolverFor(t, srv)
	cases := []struct {
		domain, selector string
		sigs             []string // want a= and s= of each signature, in order
	}{
		{"a.test", "aimx", []string{"rsa-sha256 aimx", "ed25519-sha256 aimx-ed25519"}},
		{"b.test", "s2026", []string{"rsa-sha256 s2026"}},
	}
	for _, tc := range cases {
		set := testKeys(t, tc.domain)
		publish(t, srv, set, tc.selector)
		signed, err := Sign(composeFrom(t, "zoe@"+tc.domain), set, tc.domain, tc.selector)
		if err != nil {
			t.Fatal(err)
		}
		tags := sigTags(t, signed)
		if len(tags) != len(tc.sigs) {
			t.Fatalf("%s: %d signatures, want %d", tc.domain, len(tags), len(tc.sigs))
		}
		if !strings.HasPrefix(string(signed), "DKIM-Signature:") {
			t.Errorf("%s: the message does not start with a DKIM-Signature", tc.domain)
		}
		for i, want := range tc.sigs {
			tg := tags[i]
			if got := tg["a"] + " " + tg["s"]; got != want {
				t.Errorf("%s: signature %d is %q, want %q", tc.domain, i, got, want)
			}
			if tg["d"] != tc.domain || tg["c"] != "relaxed/relaxed" {
				t.Errorf("%s: signature %d d=%s c=%s", tc.domain, i, tg["d"], tg["c"])
			}
			if tg["h"] != strings.Join(SignedHeaders(), ":") {
				t.Errorf("%s: h=%s", tc.domain, tg["h"])
			}
		}
		verifs := msgauthVerify(t, res, signed)
		if len(verifs) != len(tc.sigs) {
			t.Fatalf("%s: go-msgauth saw %d signatures", tc.domain, len(verifs))
		}
		for i, v := range verifs {
			if v.Err != nil || v.Domain != tc.domain {
				t.Errorf("%s: go-msgauth signature %d: domain %s, %v", tc.domain, i, v.Domain, v.Err)
			}
		}
		r := ourVerify(t, res, signed)
		if r.DKIM != auth.Pass || len(r.DKIMDomains) != 1 || r.DKIMDomains[0] != tc.domain {
			t.Errorf("%s: mail/auth says %s %v %+v", tc.domain, r.DKIM, r.DKIMDomains, r.Signatures)
		}
		for _, s := range r.Signatures {
			if s.Result != auth.Pass {
				t.Errorf("%s: mail/auth signature %+v", tc.domain, s)
			}
		}

		// Tampering with a signed header or the body breaks every signature.
		for _, tamper := range [][2]string{{"Subject: =?utf-8?q?Quarterly", "Subject: =?utf-8?q?Quarterlx"}, {"the figures are", "the figures were"}} {
			bad := bytes.Replace(signed, []byte(tamper[0]), []byte(tamper[1]), 1)
			if bytes.Equal(bad, signed) {
				t.Fatalf("tamper %q did not apply", tamper[0])
			}
			for _, v := range msgauthVerify(t, res, bad) {
				if v.Err == nil {
					t.Errorf("%s: tampered message (%s) still verifies", tc.domain, tamper[0])
				}
			}
		}
	}

	// Each domain's signature needs its own key: b.test's selector serving
	// a.test's key fails.
	a := testKeys(t, "a.test")
	name, value, err := dkimkey.TXTRecord("b.test", "wrong", a.RSA.Public())
	if err != nil {
		t.Fatal(err)
	}
	srv.SetTXT(name, value)
	signed, err := Sign(composeFrom(t, "zoe@b.test"), testKeys(t, "b.test"), "b.test", "wrong")
	if err != nil {
		t.Fatal(err)
	}
	if v := msgauthVerify(t, res, signed); len(v) != 1 || v[0].Err == nil {
		t.Errorf("b.test's signature verified with a.test's key")
	}
}

// TestSignAbsentHeaderListed: a field the message lacks is still in h=,
// so adding it after signing breaks the signature (RFC 6376 5.4.2).
func TestSignAbsentHeaderListed(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t)
	res := resolverFor(t, srv)
	set := testKeys(t, "b.test")
	publish(t, srv, set, "aimx")
	out, err := testComposer().Compose(sampleRequest(FormatText, false))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Sign(out.Raw, set, "b.test", "aimx")
	if err != nil {
		t.Fatal(err)
	}
	if v := msgauthVerify(t, res, signed); len(v) != 1 || v[0].Err != nil {
		t.Fatalf("untouched message: %+v", v)
	}
	i := bytes.Index(signed, []byte("MIME-Version:"))
	added := append(append(append([]byte{}, signed[:i]...), "In-Reply-To: <forged@x.test>\r\n"...), signed[i:]...)
	if v := msgauthVerify(t, res, added); len(v) != 1 || v[0].Err == nil {
		t.Error("a message with an added In-Reply-To still verifies")
	}
}

func TestSignNoKey(t *testing.T) {
	t.Parallel()
	_, loadErr := dkimkey.NewStore("testdata").LoadSet("c.test")
	if !errors.Is(loadErr, dkimkey.ErrNoKey) {
		t.Fatalf("LoadSet of a domain without keys: %v", loadErr)
	}
	msg := composeFrom(t, "zoe@c.test")
	for _, set := range []*dkimkey.KeySet{nil, {Domain: "c.test"}} {
		_, err := Sign(msg, set, "c.test", "aimx")
		if !errors.Is(err, dkimkey.ErrNoKey) || !strings.Contains(err.Error(), "aimx dkim-keygen --domain c.test") {
			t.Errorf("error %v does not name the command", err)
		}
	}
	if _, err := Sign(msg, testKeys(t, "a.test"), "b.test", "aimx"); err == nil {
		t.Error("signed for b.test with a.test's keys")
	}
	if _, err := Sign(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), testKeys(t, "a.test"), "a.test", "aimx"); err == nil {
		t.Error("signed a message with LF line endings")
	}
}

// The third-party vectors of testdata/fixtures/dkim (made by dkimpy; see
// its README).
const (
	fixtureDomain = "mail.example.net"
	fixtureBH     = "7Yw9NigGHs8+gvyKZHvLZCvGx5bSmixwVRzTQUW08UI="
)

func fixtureKey(t *testing.T, name string) crypto.Signer {
	t.Helper()
	k, err := dkimkey.ParsePrivateKey(readFile(t, filepath.Join(fixtures, "dkim", name)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signFixture signs unsigned.eml the way Sign does, with the fixture keys
// and their selectors (rsa2026, ed2026).
func signFixture(t *testing.T) (signed []byte, rsaKey, edKey crypto.Signer) {
	t.Helper()
	rsaKey, edKey = fixtureKey(t, "rsa.key.pem"), fixtureKey(t, "ed25519.key.pem")
	signed, err := signWith(readFile(t, filepath.Join(fixtures, "dkim", "unsigned.eml")), []signSpec{
		{domain: fixtureDomain, selector: "rsa2026", key: rsaKey},
		{domain: fixtureDomain, selector: "ed2026", key: edKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	return signed, rsaKey, edKey
}

// relaxedField canonicalizes one header field the relaxed way
// (RFC 6376 3.4.2), written here independently of go-msgauth.
func relaxedField(f string) string {
	name, value, _ := strings.Cut(f, ":")
	value = strings.NewReplacer("\r\n", "").Replace(value)
	value = strings.Join(strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + value
}

// TestSignFixtureVectors checks the signer against dkimpy's vectors: the
// body hash of unsigned.eml must be dkimpy's, and our b= must be a valid
// signature over dkimpy's canonical header data followed by our own
// DKIM-Signature field: that is, our header canonicalization of the signed
// fields is byte for byte dkimpy's.
func TestSignFixtureVectors(t *testing.T) {
	t.Parallel()
	signed, rsaKey, edKey := signFixture(t)
	tags := sigTags(t, signed)
	if len(tags) != 2 || tags[0]["a"] != "rsa-sha256" || tags[1]["a"] != "ed25519-sha256" {
		t.Fatalf("signatures %v", tags)
	}
	canonBody := readFile(t, filepath.Join(fixtures, "dkim", "canonical-body.relaxed"))
	sum := sha256.Sum256(canonBody)
	if base64.StdEncoding.EncodeToString(sum[:]) != fixtureBH {
		t.Fatal("fixture canonical-body.relaxed does not hash to its bh")
	}
	fields := splitFields(headerBlock(signed))
	for i, tg := range tags {
		if tg["bh"] != fixtureBH {
			t.Errorf("signature %d: bh=%s, dkimpy's is %s", i, tg["bh"], fixtureBH)
		}
		dataFile := map[int]string{0: "rsa.signed-data.relaxed", 1: "ed25519.signed-data.relaxed"}[i]
		theirs := string(readFile(t, filepath.Join(fixtures, "dkim", dataFile)))
		cut := strings.Index(theirs, "dkim-signature:")
		if cut < 0 {
			t.Fatalf("%s has no dkim-signature line", dataFile)
		}
		// Our field with its b= value emptied (RFC 6376 3.7).
		ours := regexp.MustCompile(`(^|;)(\s*b\s*=)[^;]*`).ReplaceAllString(relaxedField(fields[i]), "$1$2")
		data := theirs[:cut] + ours
		digest := sha256.Sum256([]byte(data))
		sig, err := base64.StdEncoding.DecodeString(tg["b"])
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			err = rsa.VerifyPKCS1v15(rsaKey.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig)
		case 1:
			if !ed25519.Verify(edKey.Public().(ed25519.PublicKey), digest[:], sig) {
				err = errors.New("ed25519 verification failed")
			}
		}
		if err != nil {
			t.Errorf("signature %d does not sign dkimpy's header data + our field: %v\n%q", i, err, data)
		}
	}

	// Both algorithms are deterministic: the fixture keys as our key store
	// parses them reproduce dkimpy's b= over dkimpy's signed data.
	for _, c := range []struct {
		key       crypto.Signer
		data, eml string
		hash      crypto.Hash
	}{
		{rsaKey, "rsa.signed-data.relaxed", "rsa-signed.eml", crypto.SHA256},
		{edKey, "ed25519.signed-data.relaxed", "ed25519-signed.eml", 0},
	} {
		digest := sha256.Sum256(readFile(t, filepath.Join(fixtures, "dkim", c.data)))
		sig, err := c.key.Sign(nil, digest[:], c.hash)
		if err != nil {
			t.Fatal(err)
		}
		want := sigTags(t, readFile(t, filepath.Join(fixtures, "dkim", c.eml)))[0]["b"]
		if got := base64.StdEncoding.EncodeToString(sig); got != want {
			t.Errorf("%s: b=%s, dkimpy's is %s", c.data, got, want)
		}
	}
}

// TestSignFixtureVerifies verifies the fixture message as we signed it,
// with go-msgauth and mail/auth against the fixture's DNS records, and
// with dkimpy when the Debian python3-dkim module is installed.
func TestSignFixtureVerifies(t *testing.T) {
	t.Parallel()
	signed, _, _ := signFixture(t)
	srv := dnstest.Start(t)
	txt := func(name string) string {
		return strings.TrimRight(string(readFile(t, filepath.Join(fixtures, "dkim", name))), "\r\n")
	}
	srv.SetTXT("rsa2026._domainkey."+fixtureDomain, txt("rsa.txt"))
	srv.SetTXT("ed2026._domainkey."+fixtureDomain, txt("ed25519.txt"))
	res := resolverFor(t, srv)
	verifs := msgauthVerify(t, res, signed)
	if len(verifs) != 2 || verifs[0].Err != nil || verifs[1].Err != nil {
		t.Errorf("go-msgauth: %+v %+v", verifs[0], verifs[1])
	}
	if r := ourVerify(t, res, signed); r.DKIM != auth.Pass || len(r.Signatures) != 2 || r.Signatures[1].Result != auth.Pass {
		t.Errorf("mail/auth: %s %+v", r.DKIM, r.Signatures)
	}

	const py = "/usr/bin/python3"
	if exec.Command(py, "-c", "import dkim").Run() != nil {
		t.Log("dkimpy (python3-dkim) not installed: skipping the dkimpy cross-check")
		return
	}
	dir := t.TempDir()
	msgPath := filepath.Join(dir, "signed.eml")
	if err := os.WriteFile(msgPath, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `import dkim, sys
recs = {b"rsa2026._domainkey.mail.example.net.": sys.argv[2].encode(), b"ed2026._domainkey.mail.example.net.": sys.argv[3].encode()}
def dns(name, timeout=5):
    return recs.get(name if name.endswith(b".") else name + b".")
msg = open(sys.argv[1], "rb").read()
d = dkim.DKIM(msg)
ok = [d.verify(idx=i, dnsfunc=dns) for i in range(2)]
print(ok)
sys.exit(0 if all(ok) else 1)
`
	out, err := exec.Command(py, "-c", script, msgPath, txt("rsa.txt"), txt("ed25519.txt")).CombinedOutput()
	if err != nil {
		t.Errorf("dkimpy rejects our signatures: %v\n%s", err, out)
	}
}
