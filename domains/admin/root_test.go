package admin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// helperEnv makes the test binary act as an admin.sock client (run as
// another user by TestNonOperatorPeer) instead of running tests.
const helperEnv = "AIMX_ADMIN_TEST_CLIENT"

// TestHelperClient is the child process: GET /v1/status on the runtime
// dir named in helperEnv, printing the outcome on stdout.
func TestHelperClient(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	_, err := NewClient(dir).DaemonStatus(context.Background())
	var e *Error
	switch {
	case errors.As(err, &e):
		fmt.Printf("code=%s status=%d\n", e.Code, e.Status)
	case errors.Is(err, ErrNotOperator):
		fmt.Println("not-operator")
	case err != nil:
		fmt.Printf("err=%v\n", err)
	default:
		fmt.Println("ok")
	}
}

// TestNonOperatorPeer: a client running as nobody is refused. With the
// socket at its real 0600 the kernel refuses the connection; with the
// socket opened up (0666) the handler's peer check answers 403 forbidden,
// so the check does not depend on the file mode alone.
func TestNonOperatorPeer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs a client as nobody")
	}
	t.Parallel()
	f := newFixture(t, OperatorUID(os.Geteuid()))
	run := filepath.Dir(f.sock)
	if err := os.Chmod(run, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(run, "admin.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func() string {
		t.Helper()
		cmd := exec.Command(bin, "-test.run=^TestHelperClient$")
		cmd.Env = []string{helperEnv + "=" + run}
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := asNobody(); !strings.Contains(out, "not-operator") {
		t.Errorf("nobody on a 0600 admin.sock: %s", out)
	}
	if err := os.Chmod(f.sock, 0o666); err != nil {
		t.Fatal(err)
	}
	if out := asNobody(); !strings.Contains(out, "code=forbidden status=403") {
		t.Errorf("nobody on an open admin.sock: %s", out)
	}
	// Root itself is the operator.
	if _, err := f.client.DaemonStatus(context.Background()); err != nil {
		t.Errorf("root refused: %v", err)
	}
}
