package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what `aimx version` reports.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Go       string `json:"go"`
}

// buildVersion reads the module version and VCS revision the Go toolchain
// stamped into the binary.
func buildVersion() versionInfo {
	vi := versionInfo{Version: "(devel)", Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return vi
	}
	if info.Main.Version != "" {
		vi.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			vi.Revision = s.Value
		}
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
