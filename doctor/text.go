package doctor

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// label is how a verdict is printed.
func (s Status) label() string {
	switch s {
	case Fail:
		return "FAIL"
	case Warn:
		return "WARN"
	}
	return "OK"
}

// WriteText prints the report for a person (book/doctor.md): a block for
// the server, each domain, the mailboxes, storage, the shared database
// (postgres backend only) and the daemon, one
// line per check. A WARN or FAIL line ends with what to do, after "->".
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Server %s\n", r.Server.Hostname)
	ips := "unknown"
	if len(r.Server.SendingIPs) > 0 {
		ips = strings.Join(r.Server.SendingIPs, ", ")
	}
	if r.Server.Relay {
		ips += " (mail leaves through [outbound] relay)"
	}
	fmt.Fprintf(&b, "  public addresses: %s\n", ips)
	writeChecks(&b, r.Server.Checks)
	for _, d := range r.Domains {
		def := ""
		if d.Default {
			def = "default, "
		}
		fmt.Fprintf(&b, "\nDomain %s (%sselector %s)\n", d.Domain, def, d.Selector)
		writeChecks(&b, d.Checks)
	}
	b.WriteString("\nMailboxes\n")
	if len(r.Mailboxes) == 0 {
		b.WriteString("  (none)\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tOWNER\tTOTAL\tUNREAD\tSENT\tMODE\tSTATUS")
		for _, m := range r.Mailboxes {
			mode := m.Mode
			if mode == "" {
				mode = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%s\t%s\n", m.Name, m.Owner, m.Total, m.Unread, m.Sent, mode, m.Status.label())
		}
		_ = tw.Flush() // a strings.Builder does not fail
		for _, m := range r.Mailboxes {
			for _, c := range m.Checks {
				c.Detail = m.Name + ": " + c.Detail
				writeCheck(&b, c)
			}
		}
	}
	if len(r.Storage) > 0 {
		b.WriteString("\nStorage\n")
		writeChecks(&b, r.Storage)
	}
	if r.Database != nil {
		fmt.Fprintf(&b, "\nDatabase %s\n", r.Database.Target)
		writeChecks(&b, r.Database.Checks)
	}
	b.WriteString("\nDaemon\n")
	writeChecks(&b, r.Daemon.Checks)
	fmt.Fprintf(&b, "\n%d OK, %d WARN, %d FAIL\n", r.Summary.OK, r.Summary.Warn, r.Summary.Fail)
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

func writeChecks(b *strings.Builder, cs []Check) {
	for _, c := range cs {
		writeCheck(b, c)
	}
}

// writeCheck prints "  FAIL  mx           detail -> fix".
func writeCheck(b *strings.Builder, c Check) {
	fmt.Fprintf(b, "  %-4s  %-11s  %s", c.Status.label(), c.Check, c.Detail)
	if c.Status != OK && c.Fix != "" {
		fmt.Fprintf(b, " -> %s", c.Fix)
	}
	b.WriteString("\n")
}
