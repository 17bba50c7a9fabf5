package admin

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestDomainsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	ctx := context.Background()

	_, err := f.client.AddDomain(ctx, NewDomain{Domain: "not a domain"})
	wantCode(t, "invalid name", err, CodeValidation, 400)
	_, err = f.client.AddDomain(ctx, NewDomain{Domain: dom})
	wantCode(t, "existing", err, CodeConflict, 409)
	_, err = f.client.RemoveDomain(ctx, dom, true)
	wantCode(t, "last domain", err, CodeConflict, 409)
	if err != nil && !strings.Contains(err.Error(), "uninstall") {
		t.Errorf("the last-domain refusal does not point at uninstall: %v", err)
	}
	_, err = f.client.RemoveDomain(ctx, "nope.test", false)
	wantCode(t, "unknown", err, CodeNotFound, 404)

	added, err := f.client.AddDomain(ctx, NewDomain{Domain: "b.test", Selector: "s2", CatchallOwner: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if added.Domain != "b.test" || added.Selector != "s2" || !added.KeyCreated || len(added.Records) != 4 || added.Catchall != "*@b.test" {
		t.Fatalf("added %+v", added)
	}
	if _, err := f.client.CreateMailbox(ctx, NewMailbox{Name: "zed@b.test", Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	list, err := f.client.ListDomains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Domains) != 2 || !list.Domains[0].Default || list.Domains[1].Mailboxes != 2 || list.Domains[1].DKIMSelector != "s2" {
		t.Fatalf("list %+v", list)
	}
	// The JSON field names are the documented ones.
	body := f.get(t, "/v1/domains")
	for _, k := range []string{`"domain"`, `"default"`, `"dkim_loaded"`, `"dkim_selector"`, `"mailboxes"`, `"unread"`, `"overrides"`} {
		if !strings.Contains(body, k) {
			t.Errorf("GET /v1/domains lacks %s: %s", k, body)
		}
	}

	_, err = f.client.RemoveDomain(ctx, "b.test", false)
	wantCode(t, "blocked by mailboxes", err, CodeNonEmpty, 409)
	if e, ok := err.(*Error); !ok || !reflect.DeepEqual(e.Mailboxes, []string{"*@b.test", "zed@b.test"}) {
		t.Fatalf("blocking mailboxes: %#v", err)
	}
	_, err = f.client.RemoveDomain(ctx, dom, false)
	wantCode(t, "default domain", err, CodeNonEmpty, 409) // it has mailboxes too
	removed, err := f.client.RemoveDomain(ctx, "b.test", true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(removed.Mailboxes, []string{"*@b.test", "zed@b.test"}) || removed.KeysKept == "" {
		t.Fatalf("removed %+v", removed)
	}
	if got := f.admin.Config.Registry.Current().Domains; !reflect.DeepEqual(got, []string{dom}) {
		t.Fatalf("domains after removal: %v", got)
	}
}
