package doctor

// SchemaVersion is the version of the JSON report (`aimx doctor --json`);
// it changes only when a field changes meaning or goes away, and schema.json
// pins it (book/doctor.md).
const SchemaVersion = 1

// Status is the verdict of one check.
type Status string

// The verdicts, from best to worst.
const (
	// OK: nothing to do.
	OK Status = "ok"
	// Warn: mail flows, but something is worth fixing.
	Warn Status = "warn"
	// Fail: mail is lost, refused or marked as spam until it is fixed;
	// doctor exits non-zero.
	Fail Status = "fail"
)

// rank orders the verdicts.
func (s Status) rank() int {
	switch s {
	case Fail:
		return 2
	case Warn:
		return 1
	}
	return 0
}

// worst is the worse of two verdicts.
func worst(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Check is one finding. A Fail always has a Fix: what the operator does
// about it (book/doctor.md).
type Check struct {
	// Check names what was checked; the names are stable (book/doctor.md
	// lists them).
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail"`
	// Fix says what to do; empty for OK.
	Fix string `json:"fix,omitempty"`
}

// Report is everything `aimx doctor` found.
type Report struct {
	// Schema is SchemaVersion.
	Schema int `json:"schema"`
	// OK is false when any check failed.
	OK      bool    `json:"ok"`
	Summary Summary `json:"summary"`
	Server  Server  `json:"server"`
	// Domains are in config order, the default first.
	Domains []Domain `json:"domains"`
	// Mailboxes are sorted by name.
	Mailboxes []Mailbox `json:"mailboxes"`
	// Storage holds the findings about the data dir as a whole: storage
	// without a mailbox (orphans).
	Storage []Check `json:"storage"`
	// Database is there only with the postgres backend.
	Database *Database `json:"database,omitempty"`
	Daemon   Daemon    `json:"daemon"`
}

// Summary counts the checks by verdict.
type Summary struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

// Server is what the host needs for every domain: its name, its addresses
// and their reverse DNS, the TLS certificate.
type Server struct {
	// Hostname is `[smtp] hostname`: the name MX records point at and the
	// sending IP's PTR must name.
	Hostname string `json:"hostname"`
	// SendingIPs are the host's public addresses, as found.
	SendingIPs []string `json:"sending_ips"`
	// Relay is set when `[outbound] relay` sends every message (its
	// value is never shown: it may hold a password).
	Relay  bool    `json:"relay"`
	Checks []Check `json:"checks"`
}

// Domain is the block of one served domain.
type Domain struct {
	Domain   string  `json:"domain"`
	Default  bool    `json:"default"`
	Selector string  `json:"selector"`
	Checks   []Check `json:"checks"`
}

// Mailbox is one row of the mailbox table.
type Mailbox struct {
	Name   string `json:"name"`
	Owner  string `json:"owner"`
	Total  int    `json:"total"`
	Unread int    `json:"unread"`
	Sent   int    `json:"sent"`
	// Mode is the inbox dir's permission bits ("0750"), "" when it does
	// not exist yet (it is made with the first message).
	Mode string `json:"mode"`
	// Status is the worst verdict of Checks (OK when there are none).
	Status Status  `json:"status"`
	Checks []Check `json:"checks"`
}

// Daemon is what the running daemon says about itself over admin.sock
// (`GET /v1/status`, book/admin.md).
type Daemon struct {
	Running    bool   `json:"running"`
	Version    string `json:"version"`
	UptimeSecs int64  `json:"uptime_secs"`
	// Queue counts outbound messages waiting; HookJobs the hook jobs
	// queued or running; Panics the panics recovered since the start.
	Queue    int     `json:"queue"`
	HookJobs int     `json:"hook_jobs"`
	Panics   int64   `json:"panics"`
	Checks   []Check `json:"checks"`
}

// finish fills the summary and OK from every check, and each mailbox's
// status.
func (r *Report) finish() {
	r.Schema = SchemaVersion
	r.Summary = Summary{}
	count := func(cs []Check) {
		for _, c := range cs {
			switch c.Status {
			case Fail:
				r.Summary.Fail++
			case Warn:
				r.Summary.Warn++
			default:
				r.Summary.OK++
			}
		}
	}
	count(r.Server.Checks)
	for _, d := range r.Domains {
		count(d.Checks)
	}
	for i := range r.Mailboxes {
		m := &r.Mailboxes[i]
		m.Status = OK
		for _, c := range m.Checks {
			m.Status = worst(m.Status, c.Status)
		}
		count(m.Checks)
	}
	count(r.Storage)
	if r.Database != nil {
		count(r.Database.Checks)
	}
	count(r.Daemon.Checks)
	r.OK = r.Summary.Fail == 0
}

// All returns every check of the report, in report order.
func (r *Report) All() []Check {
	var out []Check
	out = append(out, r.Server.Checks...)
	for _, d := range r.Domains {
		out = append(out, d.Checks...)
	}
	for _, m := range r.Mailboxes {
		out = append(out, m.Checks...)
	}
	out = append(out, r.Storage...)
	if r.Database != nil {
		out = append(out, r.Database.Checks...)
	}
	return append(out, r.Daemon.Checks...)
}

func ok(check, detail string) Check { return Check{Check: check, Status: OK, Detail: detail} }

func warn(check, detail, fix string) Check {
	return Check{Check: check, Status: Warn, Detail: detail, Fix: fix}
}

func fail(check, detail, fix string) Check {
	return Check{Check: check, Status: Fail, Detail: detail, Fix: fix}
}
