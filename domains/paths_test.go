package domains

import (
	"sync"
	"testing"
)

func TestResolvePaths(t *testing.T) {
	t.Parallel()
	cfg := Default("a.com")
	cfg.DataDir, cfg.RuntimeDir = "/cfg/data", "/cfg/run"
	flags := Paths{ConfigDir: "/flag/etc", DataDir: "/flag/data", RuntimeDir: "/flag/run"}
	env := Paths{ConfigDir: "/env/etc", DataDir: "/env/data", RuntimeDir: "/env/run"}
	for _, tc := range []struct {
		name       string
		flags, env Paths
		cfg        *Config
		want       Paths
	}{
		{"flag beats everything", flags, env, cfg, flags},
		{"environment beats the file", Paths{}, env, cfg, env},
		{"file beats the default", Paths{}, Paths{}, cfg, Paths{DefaultConfigDir, "/cfg/data", "/cfg/run"}},
		{"defaults", Paths{}, Paths{}, Default("a.com"), Paths{DefaultConfigDir, DefaultDataDir, DefaultRuntimeDir}},
		{"no config yet", Paths{}, Paths{}, nil, Paths{"/etc/aimx", "/var/lib/aimx", "/run/aimx"}},
		{"field by field", Paths{DataDir: "/flag/data"}, Paths{RuntimeDir: "/env/run"}, cfg, Paths{DefaultConfigDir, "/flag/data", "/env/run"}},
		{"env config dir", Paths{}, Paths{ConfigDir: "/env/etc"}, nil, Paths{"/env/etc", DefaultDataDir, DefaultRuntimeDir}},
	} {
		if got := ResolvePaths(tc.flags, tc.env, tc.cfg); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	env2 := PathsFromEnv(func(k string) string {
		return map[string]string{EnvConfigDir: "/e/c", EnvDataDir: "/e/d", EnvRuntimeDir: "/e/r"}[k]
	})
	if env2 != (Paths{"/e/c", "/e/d", "/e/r"}) || env2.ConfigFile() != "/e/c/config.toml" {
		t.Errorf("PathsFromEnv = %+v", env2)
	}
}

// The Rust fixtures always write data_dir = "/var/lib/aimx"; an override
// must still win (rust-install README).
func TestRustDataDirOverride(t *testing.T) {
	t.Parallel()
	c := loadFile(t, "testdata/rust-v1.toml")
	got := ResolvePaths(Paths{}, Paths{DataDir: "/tmp/copy/data"}, c)
	if got.DataDir != "/tmp/copy/data" {
		t.Fatalf("data dir = %q", got.DataDir)
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	a, b := Default("a.com"), Default("b.com")
	r := NewRegistry(a)
	if r.Current() != a {
		t.Fatal("Current")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if c := r.Current(); c != a && c != b {
					t.Error("torn read")
				}
			}
		})
	}
	if old := r.Swap(b); old != a {
		t.Fatal("Swap returned the wrong config")
	}
	wg.Wait()
	if r.Current() != b {
		t.Fatal("Swap not visible")
	}
	var zero Registry
	if zero.Current() != nil {
		t.Fatal("zero Registry not empty")
	}
}
