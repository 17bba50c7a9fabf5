package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// settings parses a unit's key=value lines (last one wins, as systemd
// reads a single-valued key).
func settings(unit []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(unit), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestSystemdUnitSettings pins what book/operations.md promises of the
// unit: readiness, restarts, directories, limits and hardening, and none
// of the options that would stop hooks running as their owners.
func TestSystemdUnitSettings(t *testing.T) {
	s := settings(SystemdUnit())
	want := map[string]string{
		"Type":                   "notify",
		"NotifyAccess":           "main",
		"ExecStart":              DefaultBinary + " serve",
		"ExecReload":             "/bin/kill -HUP $MAINPID",
		"Restart":                "on-failure",
		"RuntimeDirectory":       "aimx",
		"StateDirectory":         "aimx",
		"ConfigurationDirectory": "aimx",
		"ProtectSystem":          "strict",
		"KillMode":               "mixed",
		"LimitNOFILE":            "65536",
		"WantedBy":               "multi-user.target",
	}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("%s=%q, want %q", k, s[k], v)
		}
	}
	for _, dir := range []string{"/etc/aimx", "/var/lib/aimx", "/run/aimx", "-/home"} {
		if !strings.Contains(" "+s["ReadWritePaths"]+" ", " "+dir+" ") {
			t.Errorf("ReadWritePaths=%q does not hold %s", s["ReadWritePaths"], dir)
		}
	}
	for _, k := range []string{"NoNewPrivileges", "MemoryDenyWriteExecute", "RestrictNamespaces", "ProtectHome", "ProcSubset", "User", "DynamicUser"} {
		if v, ok := s[k]; ok {
			t.Errorf("%s=%s is set; book/operations.md says why it must not be", k, v)
		}
	}
	// The system call filter is a deny list that leaves hooks setuid,
	// setgid, mounts in their own user namespaces and ptrace.
	f := s["SystemCallFilter"]
	if !strings.HasPrefix(f, "~") {
		t.Errorf("SystemCallFilter=%q is not a deny list", f)
	}
	for _, group := range []string{"@setuid", "@mount", "@privileged", "@debug", "@process"} {
		if strings.Contains(f, group) {
			t.Errorf("SystemCallFilter denies %s, which hooks need", group)
		}
	}
	for _, c := range []string{"CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"} {
		if !strings.Contains(s["CapabilityBoundingSet"], c) {
			t.Errorf("CapabilityBoundingSet lacks %s, which the daemon needs", c)
		}
	}
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit (with
// ExecStart pointed at an executable that exists, which verify checks);
// any warning fails the test.
func TestSystemdUnitVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit, err := SystemdUnitFor(bin)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "aimx.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSystemdUnitFor(t *testing.T) {
	unit, err := SystemdUnitFor("/opt/aimx/bin/aimx")
	if err != nil {
		t.Fatal(err)
	}
	if got := settings(unit)["ExecStart"]; got != "/opt/aimx/bin/aimx serve" {
		t.Fatalf("ExecStart=%q", got)
	}
	if !bytes.Equal(bytes.Replace(unit, []byte("/opt/aimx/bin/aimx serve"), []byte(DefaultBinary+" serve"), 1), SystemdUnit()) {
		t.Fatal("SystemdUnitFor changed more than ExecStart")
	}
	for _, bad := range []string{"aimx", "/usr/bin/../bin/aimx", "/opt/my aimx", "/opt/%n/aimx", "/opt/$HOME/aimx"} {
		if _, err := SystemdUnitFor(bad); err == nil {
			t.Errorf("SystemdUnitFor(%q) accepted", bad)
		}
	}
	a := SystemdUnit()
	a[0] = 'X'
	if SystemdUnit()[0] == 'X' {
		t.Fatal("SystemdUnit returns the embedded bytes, not a copy")
	}
}
