package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/internal/buildinfo"
)

// versionInfo is what `aimx version` reports.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Go       string `json:"go"`
}

// buildVersion reads the module version and VCS revision the Go toolchain
// stamped into the binary: the version the MCP server reports as
// serverInfo.version too (internal/buildinfo, book/cli.md).
func buildVersion() versionInfo {
	bi := buildinfo.Read()
	vi := versionInfo{Version: bi.Version, Go: runtime.Version()}
	if bi.Revision != bi.Version {
		vi.Revision = bi.Revision
	}
	return vi
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the aimx version",
		Args:  exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			vi := buildVersion()
			if a.json {
				return a.printJSON(vi)
			}
			rev := ""
			if vi.Revision != "" {
				rev = " (" + vi.Revision + ")"
			}
			_, err := fmt.Fprintf(a.stdout, "aimx %s%s %s\n", vi.Version, rev, vi.Go)
			return err
		},
	}
}
