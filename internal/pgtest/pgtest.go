// Package pgtest gives tests a PostgreSQL database of their own: a
// throwaway cluster started once per test process in a temp dir (initdb and
// pg_ctl from Debian's postgresql package, run as nobody when the tests run
// as root, reached over a Unix socket in that dir), or the server named by
// AIMX_TEST_PG_DSN. Each DSN call creates a fresh database and drops it
// when the test ends (book/scale-out.md, "Tests").
//
// A test that needs PostgreSQL skips only when neither the binaries nor
// AIMX_TEST_PG_DSN are there, with a reason that says "needs postgres":
// CI's skip check fails such a skip when it runs as root.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names an existing server to use instead of a throwaway cluster:
// a DSN whose user may create and drop databases.
const EnvDSN = "AIMX_TEST_PG_DSN"

// EnvBin names the directory holding initdb and pg_ctl when they are
// neither on PATH nor under /usr/lib/postgresql.
const EnvBin = "AIMX_TEST_PG_BIN"

// nobodyUID is the unprivileged user the cluster runs as when the tests
// run as root (initdb refuses root).
const nobodyUID = 65534

// server is the one cluster (or external server) of a test process.
type server struct {
	admin string // DSN of a database to run CREATE DATABASE in
	dir   string // the throwaway cluster's dir; "" for an external server
	bin   string
}

// The one cluster of this test process. A test helper's exception to "no
// package-level mutable state": the cluster outlives every test and Main
// stops it.
var (
	once    sync.Once
	srv     *server
	srvErr  error
	started bool
)

// Main runs the tests and then stops the cluster if one was started. Call
// it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if started && srv != nil && srv.dir != "" {
		srv.stop()
	}
	return code
}

// Available reports whether a database can be had, and why not.
func Available() (bool, string) {
	if _, err := get(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// DSN returns the connection string of a new empty database, dropped when
// t ends. It skips t ("needs postgres") when no server can be had, and
// fails it when one should be there but does not start.
func DSN(t testing.TB) string {
	t.Helper()
	s, err := get()
	if err != nil {
		if os.Getenv(EnvDSN) == "" && errorsIsUnavailable(err) {
			t.Skipf("needs postgres: %v (install Debian's postgresql package or set %s)", err, EnvDSN)
		}
		t.Fatalf("postgres for tests: %v", err)
	}
	name := "t_" + randHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec1(ctx, s.admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec1(ctx, s.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	cfg, err := pgx.ParseConfig(s.admin)
	if err != nil {
		t.Fatalf("parse admin DSN: %v", err)
	}
	return withDatabase(s.admin, cfg.Database, name)
}

// withDatabase returns dsn naming database instead of old.
func withDatabase(dsn, old, database string) string {
	if strings.Contains(dsn, "://") {
		if i := strings.LastIndex(dsn, "/"+old); i >= 0 && old != "" {
			return dsn[:i] + "/" + database + dsn[i+1+len(old):]
		}
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "dbname=" + database
	}
	return dsn + " dbname=" + database
}

func exec1(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// unavailable marks "no binaries and no DSN", the one reason to skip.
type unavailable struct{ msg string }

func (u unavailable) Error() string { return u.msg }

func errorsIsUnavailable(err error) bool {
	_, ok := err.(unavailable)
	return ok
}

func get() (*server, error) {
	once.Do(func() {
		srv, srvErr = start()
		started = srvErr == nil
	})
	return srv, srvErr
}

func start() (*server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return &server{admin: dsn}, nil
	}
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "aimx-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	s, err := startIn(dir, bin, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// StartCluster starts a throwaway cluster for a caller that is not a test
// (the benchmark, bench/README.md): initdb and pg_ctl as in the tests (as
// nobody when the caller is root), data under dir/data, the server reached
// over a Unix socket in dir, so dir's path must stay short (socket paths
// are limited to 107 bytes). dsn names the cluster's postgres database as
// the superuser postgres. settings are extra server settings
// ("name=value") applied after the tests' defaults (fsync, synchronous
// commit and full page writes off), so a caller measuring durable commits
// passes "fsync=on", "synchronous_commit=on", "full_page_writes=on". stop
// stops the server; dir stays for the caller to remove.
func StartCluster(dir string, settings ...string) (dsn string, stop func(), err error) {
	bin, err := findBin()
	if err != nil {
		return "", nil, err
	}
	for _, kv := range settings {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsAny(kv, " '\"\\") {
			return "", nil, fmt.Errorf("start cluster: setting %q is not name=value without spaces or quotes", kv)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("start cluster: %w", err)
	}
	s, err := startIn(dir, bin, settings)
	if err != nil {
		return "", nil, fmt.Errorf("start cluster: %w", err)
	}
	return s.admin, func() {
		_, _ = s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "stop")
	}, nil
}

// startIn runs initdb and starts a server in dir (which it hands to nobody
// when we are root), with extra settings after the defaults.
func startIn(dir, bin string, settings []string) (*server, error) {
	s := &server{dir: dir, bin: bin, admin: fmt.Sprintf("host=%s port=5432 user=postgres dbname=postgres sslmode=disable", dir)}
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, nobodyUID, nobodyUID); err != nil {
			return nil, fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--no-locale"); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	opts := fmt.Sprintf("-k %s -p 5432 -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400", dir)
	for _, kv := range settings {
		opts += " -c " + kv
	}
	if out, err := s.run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %w: %s %s", err, out, log)
	}
	return s, nil
}

func (s *server) stop() {
	_, _ = s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

// run runs one of the cluster's programs, as nobody when we are root.
func (s *server) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyUID}}
	}
	return cmd.CombinedOutput()
}

// findBin finds the directory of initdb and pg_ctl.
func findBin() (string, error) {
	if d := os.Getenv(EnvBin); d != "" {
		return d, nil
	}
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(r))
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	dirs = append(dirs, matches...)
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", unavailable{"no initdb and pg_ctl (looked on PATH and under /usr/lib/postgresql)"}
}
