package search

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestParseQueryAndExpression(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"invoice", `({subject sender rcpt body} : ("invoice"))`},
		{`Invoice from:alice@example.test -paid "export fails" plan*`,
			`({subject sender rcpt body} : ("Invoice") AND sender : ("alice" AND "example" AND "test") AND {subject sender rcpt body} : ("export" AND "fails") AND {subject sender rcpt body} : ("plan" *)) NOT ({subject sender rcpt body} : ("paid"))`},
		{`subject:"a b" to:x`, `(subject : ("a" AND "b") AND rcpt : ("x"))`},
		// Syntax of the engine is only ever words in quotes.
		{`box:b1 OR NEAR(x y) "un"closed`, `({subject sender rcpt body} : ("box" AND "b1") AND {subject sender rcpt body} : ("OR") AND {subject sender rcpt body} : ("NEAR" AND "x") AND {subject sender rcpt body} : ("y") AND {subject sender rcpt body} : ("un" AND "closed"))`},
	} {
		e, err := ParseQuery(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := ftsExpr(e); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "  ", "-only", "!!! ???", strings.Repeat("a ", 600), strings.Repeat("w ", 40)} {
		var qe *QueryError
		if _, err := ParseQuery(bad); !errors.As(err, &qe) {
			t.Errorf("%q: %v, want a QueryError", bad, err)
		}
	}
}

func TestAnyQueryTextRunsOrIsRefused(t *testing.T) {
	f := openTestFTS(t)
	ctx := context.Background()
	if err := f.Add(ctx, []Doc{doc(boxA, "a1", 1, "x", "some text")}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`"`, `a"b`, `*`, `x*y`, `-x y`, `İstanbul`, `naïve café`, `from:`, `:x`, `a:b:c`, `(x)`, `x AND`, `日本語`} {
		e, err := ParseQuery(q)
		if err != nil {
			continue
		}
		if _, err := f.Search(ctx, Query{Expr: e, Boxes: []Box{boxA}, Limit: 5}); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}

func TestSnippet(t *testing.T) {
	e, _ := ParseQuery("deploy*")
	body := strings.Repeat("alpha beta gamma\n", 20) + "The DEPLOYMENT\tfailed on main.\n" + strings.Repeat("delta ", 60)
	got := Snippet(body, e)
	if !strings.Contains(got, "**DEPLOYMENT** failed on main.") || !strings.HasPrefix(got, "… ") || !strings.HasSuffix(got, " …") {
		t.Errorf("snippet %q", got)
	}
	if len(got) > snippetLen+40 {
		t.Errorf("snippet of %d bytes", len(got))
	}
	if got := Snippet("short body, no match", e); got != "short body, no match" {
		t.Errorf("no-match snippet %q", got)
	}
	if got := Snippet(strings.Repeat("é", 300), e); !strings.HasSuffix(got, " …") || !strings.HasPrefix(got, "é") {
		t.Errorf("long word snippet %q", got)
	}
}
