package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A listener made by a listen func is bound after the pid file is taken,
// served, recorded in listen.json under its name and closed at shutdown.
func TestAddListenerFuncBindsAfterPIDFile(t *testing.T) {
	t.Parallel()
	run, err := os.MkdirTemp("", "axd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	sock := filepath.Join(run, "x.sock")
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Changer: newChanger(t, "a.test")})
	var pidSeen bool
	d.AddListenerFunc("unix", func() (net.Listener, error) {
		_, err := os.Stat(filepath.Join(run, "aimx.pid"))
		pidSeen = err == nil
		return net.Listen("unix", sock)
	}, httpService("over unix"))
	stop, s := startDaemon(t, d, nil)
	if !pidSeen {
		t.Error("listen func ran before the pid file was taken")
	}
	if s.bound["unix"] != sock {
		t.Fatalf("bound = %v, want unix=%s", s.bound, sock)
	}
	var listen map[string]string
	data, err := os.ReadFile(filepath.Join(run, "listen.json"))
	if err != nil || json.Unmarshal(data, &listen) != nil || listen["unix"] != sock {
		t.Fatalf("listen.json = %s (%v), want unix=%s", data, err, sock)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := hc.Get("http://unix/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "over unix" {
		t.Fatalf("served %q", body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("unix", sock); err == nil {
		t.Error("unix listener still accepting after shutdown")
	}
}

// A failing listen func stops startup with an error naming the listener
// and releases the listeners already bound and the pid file.
func TestAddListenerFuncFailure(t *testing.T) {
	t.Parallel()
	run := t.TempDir()
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Changer: newChanger(t, "a.test")})
	d.AddListener("ok", "tcp", "127.0.0.1:0", httpService(""))
	d.AddListenerFunc("sock", func() (net.Listener, error) { return nil, errors.New("socket in use") }, httpService(""))
	err := d.Run(context.Background(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "listen sock: socket in use") {
		t.Fatalf("Run = %v, want the listen func's error naming the listener", err)
	}
	if _, err := os.Stat(filepath.Join(run, "aimx.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left after a failed start: %v", err)
	}
}
