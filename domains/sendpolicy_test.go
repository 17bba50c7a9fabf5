package domains

import (
	"reflect"
	"strings"
	"testing"
)

func TestSendPolicy(t *testing.T) {
	t.Parallel()
	src := `domains = ["a.com", "b.com"]
send_quota_hour = 50
send_allow = ["*@partner.com"]

[domain."b.com"]
send_allow = []
send_approval = "required"

[mailboxes."x@a.com"]
address = "x@a.com"
owner = "u"
send_quota_day = 5

[mailboxes."y@b.com"]
address = "y@b.com"
owner = "u"
send_approval = "none"

[mailboxes."z@b.com"]
address = "z@b.com"
owner = "u"
`
	c, err := parseT(src)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]SendRules{
		"x@a.com": {Allow: []string{"*@partner.com"}, QuotaHour: 50, QuotaDay: 5},
		"y@b.com": {Allow: []string{}, QuotaHour: 50, QuotaDay: DefaultSendQuotaDay},
		"z@b.com": {Allow: []string{}, QuotaHour: 50, QuotaDay: DefaultSendQuotaDay, ApprovalRequired: true},
	} {
		if got := c.SendRulesFor(name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	// Written back as read.
	again, err := parseT(string(c.Encode()))
	if err != nil || !Equal(c, again) {
		t.Fatalf("round trip: %v\n%s", err, c.Encode())
	}
	for _, bad := range []struct{ line, want string }{
		{`send_quota_hour = -1`, "send_quota_hour must be 0"},
		{`send_approval = "maybe"`, "send_approval must be"},
		{`send_allow = ["a b@c"]`, "send_allow[0]"},
	} {
		_, err := parseT("domains = [\"a.com\"]\n" + bad.line + "\n")
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v", bad.line, err)
		}
	}
}
