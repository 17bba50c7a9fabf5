// Package deploy holds the files aimx ships for installing it on a host,
// embedded in the binary so `aimx setup` writes exactly what the repo
// holds: today the systemd unit (book/operations.md, "The systemd unit").
package deploy

import (
	_ "embed" // the unit file is embedded
	"fmt"
	"path/filepath"
	"strings"
)

// DefaultBinary is the aimx binary's path in the shipped unit's ExecStart.
const DefaultBinary = "/usr/local/bin/aimx"

//go:embed systemd/aimx.service
var systemdUnit []byte

// SystemdUnit returns a copy of the shipped unit file
// (deploy/systemd/aimx.service), which runs DefaultBinary.
func SystemdUnit() []byte { return append([]byte(nil), systemdUnit...) }

// SystemdUnitFor returns the unit with ExecStart running the aimx binary
// at binary instead of DefaultBinary, for an install that keeps it
// elsewhere. binary must be an absolute, clean path that systemd reads as
// it is: no whitespace, quotes, backslashes, '$' or '%' (systemd.service(5),
// "Command lines", and systemd.unit(5), "Specifiers").
func SystemdUnitFor(binary string) ([]byte, error) {
	if !filepath.IsAbs(binary) || filepath.Clean(binary) != binary {
		return nil, fmt.Errorf("aimx binary %q: not an absolute, clean path", binary)
	}
	if strings.ContainsAny(binary, " \t\r\n\"'\\$%;") {
		return nil, fmt.Errorf("aimx binary %q: has a character systemd's ExecStart would interpret", binary)
	}
	const from = "ExecStart=" + DefaultBinary + " "
	if !strings.Contains(string(systemdUnit), from) {
		return nil, fmt.Errorf("shipped unit has no %q line", from)
	}
	return []byte(strings.Replace(string(systemdUnit), from, "ExecStart="+binary+" ", 1)), nil
}
