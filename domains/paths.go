package domains

import "path/filepath"

// Production defaults of book/configuration.md.
const (
	DefaultConfigDir  = "/etc/aimx"
	DefaultDataDir    = "/var/lib/aimx"
	DefaultRuntimeDir = "/run/aimx"
	// ConfigFileName is the config file's name inside the config dir.
	ConfigFileName = "config.toml"
)

// Environment variables that override the paths (book/configuration.md).
const (
	EnvConfigDir  = "AIMX_CONFIG_DIR"
	EnvDataDir    = "AIMX_DATA_DIR"
	EnvRuntimeDir = "AIMX_RUNTIME_DIR"
)

// Paths are the three directories aimx works in (book/configuration.md).
type Paths struct {
	ConfigDir  string
	DataDir    string
	RuntimeDir string
}

// ConfigFile is the path of config.toml in the config dir.
func (p Paths) ConfigFile() string { return filepath.Join(p.ConfigDir, ConfigFileName) }

// PathsFromEnv reads the AIMX_*_DIR variables through getenv (os.Getenv,
// or a map in tests); unset or empty variables leave their field empty.
func PathsFromEnv(getenv func(string) string) Paths {
	return Paths{
		ConfigDir:  getenv(EnvConfigDir),
		DataDir:    getenv(EnvDataDir),
		RuntimeDir: getenv(EnvRuntimeDir),
	}
}

// ResolvePaths applies the precedence of book/configuration.md field by field: flag, then
// environment, then the config file (data_dir, runtime_dir), then the
// production default. Empty strings mean "not given". cfg may be nil, as
// when resolving the config dir before the config is loaded; the config dir
// itself never comes from the config file.
func ResolvePaths(flags, env Paths, cfg *Config) Paths {
	var fromFile Paths
	if cfg != nil {
		fromFile.DataDir = cfg.DataDir
		fromFile.RuntimeDir = cfg.RuntimeDir
	}
	return Paths{
		ConfigDir:  first(flags.ConfigDir, env.ConfigDir, DefaultConfigDir),
		DataDir:    first(flags.DataDir, env.DataDir, fromFile.DataDir, DefaultDataDir),
		RuntimeDir: first(flags.RuntimeDir, env.RuntimeDir, fromFile.RuntimeDir, DefaultRuntimeDir),
	}
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
