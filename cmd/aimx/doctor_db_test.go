package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aimx-dev/aimx/domains"
)

// TestDoctorDatabaseWiring: the database checks are on with the postgres
// backend only, with AIMX_STORAGE_DSN over [storage] dsn, as serve reads
// them.
func TestDoctorDatabaseWiring(t *testing.T) {
	for _, tc := range []struct {
		name         string
		backend, dsn string
		env          map[string]string
		postgres     bool
		wantDSN      string
	}{
		{"files", "", "postgres://x@file/db", nil, false, ""},
		{"postgres", domains.BackendPostgres, "postgres://aimx@db/aimx", nil, true, "postgres://aimx@db/aimx"},
		{"env over file", domains.BackendPostgres, "postgres://aimx@db/aimx", map[string]string{envStorageDSN: "postgres://aimx:pw@db2/aimx"}, true, "postgres://aimx:pw@db2/aimx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := &domains.Config{}
			cfg.Storage.Backend, cfg.Storage.DSN = tc.backend, tc.dsn
			paths := domains.Paths{ConfigDir: dir, DataDir: filepath.Join(dir, "data"), RuntimeDir: dir}
			env := tc.env
			if env == nil {
				env = map[string]string{}
			}
			a := &app{ctx: context.Background(), env: env}
			d, closeStore, err := a.newDoctor(cfg, paths, doctorFlags{})
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			if d.Postgres != tc.postgres || d.DSN != tc.wantDSN {
				t.Errorf("Postgres %v DSN %q, want %v %q", d.Postgres, d.DSN, tc.postgres, tc.wantDSN)
			}
		})
	}
}
