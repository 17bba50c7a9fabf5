package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/aimx-dev/aimx/domains"
)

// flagPaths returns the paths the global flags or AIMX_* environment give
// (viper layers the two); empty fields were not given.
func (a *app) flagPaths() domains.Paths {
	return domains.Paths{
		ConfigDir:  a.v.GetString("config_dir"),
		DataDir:    a.v.GetString("data_dir"),
		RuntimeDir: a.v.GetString("runtime_dir"),
	}
}

// loadConfig finds and loads config.toml and resolves the three paths with
// the precedence of book/configuration.md. Load warnings go to the log.
func (a *app) loadConfig() (*domains.Config, domains.Paths, error) {
	given := a.flagPaths()
	paths := domains.ResolvePaths(given, domains.Paths{}, nil)
	cfg, err := domains.Load(paths.ConfigFile(), domains.LoadOptions{})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, paths, fmt.Errorf("no config at %s: set --config-dir or AIMX_CONFIG_DIR to the directory holding config.toml", paths.ConfigFile())
		}
		return nil, paths, err
	}
	if cfg.Source != nil {
		for _, w := range cfg.Source.Warnings {
			a.log.Warn().Str("file", w.File).Int("line", w.Line).Str("key", w.Key).Msg(w.Message)
		}
	}
	return cfg, domains.ResolvePaths(given, domains.Paths{}, cfg), nil
}
