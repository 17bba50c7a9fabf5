package domains

import (
	"slices"
	"testing"
)

func TestM8_RoleAddresses(t *testing.T) {
	t.Parallel()
	roles := RoleLocalParts()
	if !slices.IsSorted(roles) {
		t.Fatalf("role list not sorted: %v", roles)
	}
	// CA/B Forum BR 3.2.2.4.4 and RFC 2142 must all be there.
	for _, l := range []string{"admin", "administrator", "webmaster", "hostmaster", "postmaster",
		"abuse", "security", "noc", "root", "mailer-daemon"} {
		if !IsRoleAddress(l+"@a.test") || !IsRoleAddress(l) {
			t.Errorf("%s is not a role address", l)
		}
		if err := ValidLocalPart(l); err != nil {
			t.Errorf("role %s breaks the local part grammar: %v", l, err)
		}
	}
	for _, n := range []string{"support@a.test", "info@a.test", "postmaster+x@a.test", "admins@a.test", "*@a.test", "hello"} {
		if IsRoleAddress(n) {
			t.Errorf("%s is a role address", n)
		}
	}
	roles[0] = "changed"
	if RoleLocalParts()[0] == "changed" {
		t.Fatal("RoleLocalParts shares its slice")
	}
}
