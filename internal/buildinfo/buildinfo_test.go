package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	rev := []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}
	for _, tc := range []struct {
		name     string
		main     string
		settings []debug.BuildSetting
		want     Info
	}{
		{"module version", "v1.2.3", rev, Info{Version: "v1.2.3", Revision: "abc123", Modified: true}},
		{"revision", "(devel)", rev, Info{Version: "abc123", Revision: "abc123", Modified: true}},
		{"nothing", "(devel)", nil, Info{Version: Devel}},
		{"empty", "", nil, Info{Version: Devel}},
	} {
		got := fromBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: tc.main}, Settings: tc.settings})
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if Version() == "" || Version() != Read().Version {
		t.Fatalf("Version() = %q", Version())
	}
}
