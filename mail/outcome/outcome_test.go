package outcome

import (
	"errors"
	"fmt"
	"testing"
)

func TestOutcomes(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	for _, tc := range []struct {
		name      string
		e         *Error
		reply     string
		temporary bool
		fault     Fault
	}{
		{"relay", RelayDenied(cause), "550 5.7.1 relay not permitted", false, FaultUser},
		{"unknown", UserUnknown(cause), "550 5.1.1 user unknown", false, FaultUser},
		{"recipients", TooManyRecipients(cause), "452 4.5.3 too many recipients", true, FaultUser},
		{"size", MessageTooBig(cause), "552 5.3.4 message size exceeds fixed maximum message size", false, FaultUser},
		{"local", LocalError(cause), "451 4.3.0 temporary local problem, try again later", true, FaultServer},
		{"shutdown", ShuttingDown(), "421 4.3.2 service shutting down, try again later", true, FaultServer},
	} {
		if got := tc.e.Reply(); got != tc.reply {
			t.Errorf("%s: reply %q, want %q", tc.name, got, tc.reply)
		}
		if tc.e.Temporary() != tc.temporary || tc.e.Permanent() == tc.temporary {
			t.Errorf("%s: temporary=%v permanent=%v", tc.name, tc.e.Temporary(), tc.e.Permanent())
		}
		if tc.e.Fault != tc.fault {
			t.Errorf("%s: fault %s, want %s", tc.name, tc.e.Fault, tc.fault)
		}
		if tc.e.Err != nil && !errors.Is(tc.e, cause) {
			t.Errorf("%s: does not unwrap to its cause", tc.name)
		}
	}
}

func TestAsThroughWrapping(t *testing.T) {
	t.Parallel()
	e := LocalError(errors.New("disk"))
	wrapped := fmt.Errorf("deliver: %w", e)
	got, ok := As(wrapped)
	if !ok || got != e {
		t.Fatalf("As(%v) = %v, %v", wrapped, got, ok)
	}
	if want := "451 4.3.0 temporary local problem, try again later: disk"; e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
	if _, ok := As(errors.New("plain")); ok {
		t.Error("As found an outcome in a plain error")
	}
	for f, want := range map[Fault]string{FaultUser: "user", FaultServer: "server", FaultRemote: "remote", 0: "unknown"} {
		if f.String() != want {
			t.Errorf("Fault(%d) = %q, want %q", f, f, want)
		}
	}
}
