package domains

import "slices"

// roleLocalParts are the local parts that speak for a domain rather than
// for a person (book/security.md, "Role addresses"): whoever receives them
// can pass a certificate authority's domain validation or take reports
// meant for the people running the host. Only the operator creates them
// (admin.sock, `aimx mailboxes create`, or config.toml by hand); the MCP
// door refuses them to everyone, as it refuses catchalls.
//
//   - CA/Browser Forum Baseline Requirements 3.2.2.4.4 (constructed email
//     to the domain contact): admin, administrator, webmaster, hostmaster,
//     postmaster.
//   - RFC 2142 sections 4 and 5 (network operations and services): abuse,
//     noc, security, postmaster, hostmaster, usenet, news, webmaster, www,
//     uucp, ftp.
//   - Addresses certificate authorities accepted before the Baseline
//     Requirements closed the list (and which other validators still try):
//     ssladmin, ssladministrator, ssl-admin, sslwebmaster, sysadmin, it.
//   - The system and bounce addresses every MTA knows: root, and
//     mailer-daemon (RFC 5321 4.5.5, the bounce sender).
//
// The business addresses of RFC 2142 section 3 (info, marketing, sales,
// support) are ordinary mailboxes: agents are meant to run them.
func roleLocalParts() []string {
	return []string{
		"abuse", "admin", "administrator", "ftp", "hostmaster", "it", "mailer-daemon", "news",
		"noc", "postmaster", "root", "security", "ssl-admin", "ssladmin", "ssladministrator",
		"sslwebmaster", "sysadmin", "usenet", "uucp", "webmaster", "www",
	}
}

// RoleLocalParts returns the role local parts, sorted (a fresh slice the
// caller may keep).
func RoleLocalParts() []string {
	return roleLocalParts()
}

// IsRoleAddress reports whether the mailbox name (an FQDN, or a bare local
// part) is a role address of its domain: one only the operator may create.
// Local parts are compared as book/configuration.md writes them, lowercase; a plus
// address (postmaster+x@) is its own mailbox and no role.
func IsRoleAddress(name string) bool {
	local, _ := SplitName(name)
	return slices.Contains(roleLocalParts(), local)
}
