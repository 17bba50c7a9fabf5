// Package buildinfo is the one answer to "which aimx is this": the
// version `aimx version` prints and the MCP server reports as
// serverInfo.version at initialize (book/cli.md, book/mcp.md). Both read it
// here, so they cannot disagree.
package buildinfo

import (
	"runtime/debug"
	"sync"
)

// Devel is the version of a binary the Go toolchain stamped with neither a
// module version nor a VCS revision (a `go run` build, for one).
const Devel = "devel"

// Info is what the toolchain stamped into the running binary.
type Info struct {
	// Version is the module version (v1.2.3, or a pseudo-version for a
	// `go build` in a checkout), else the VCS revision, else Devel.
	Version string
	// Revision is the VCS revision, "" when none was stamped.
	Revision string
	// Modified is true when the working tree had uncommitted changes.
	Modified bool
}

var (
	once   sync.Once
	cached Info
)

// Read returns the running binary's Info, read once.
func Read() Info {
	once.Do(func() {
		info, ok := debug.ReadBuildInfo()
		if !ok {
			cached = Info{Version: Devel}
			return
		}
		cached = fromBuildInfo(info)
	})
	return cached
}

// Version is Read().Version.
func Version() string { return Read().Version }

// fromBuildInfo picks the version out of a binary's build info: the main
// module's version unless it is the toolchain's "(devel)" placeholder,
// else the VCS revision, else Devel.
func fromBuildInfo(info *debug.BuildInfo) Info {
	var out Info
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Revision = s.Value
		case "vcs.modified":
			out.Modified = s.Value == "true"
		}
	}
	switch v := info.Main.Version; {
	case v != "" && v != "(devel)":
		out.Version = v
	case out.Revision != "":
		out.Version = out.Revision
	default:
		out.Version = Devel
	}
	return out
}
