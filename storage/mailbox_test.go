package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestMailboxRefValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref MailboxRef
		ok  bool
	}{
		{MailboxRef{"agent.example.com", "support"}, true},
		{MailboxRef{"agent.example.com", "catchall"}, true},
		{MailboxRef{"a.com", "a+b.c_d-e"}, true},
		{MailboxRef{"a.com", strings.Repeat("a", 64)}, true},
		{MailboxRef{"a.com", strings.Repeat("a", 65)}, false},
		{MailboxRef{"a.com", ""}, false},
		{MailboxRef{"a.com", ".."}, false},
		{MailboxRef{"a.com", "a..b"}, false},
		{MailboxRef{"a.com", ".a"}, false},
		{MailboxRef{"a.com", "a/b"}, false},
		{MailboxRef{"a.com", "A"}, false},
		{MailboxRef{"a.com", "a\x00"}, false},
		{MailboxRef{"com", "a"}, false},
		{MailboxRef{"..", "a"}, false},
		{MailboxRef{"a..com", "a"}, false},
		{MailboxRef{"a/b.com", "a"}, false},
		{MailboxRef{"-a.com", "a"}, false},
		{MailboxRef{"A.com", "a"}, false},
		{MailboxRef{"", "a"}, false},
	}
	for _, tt := range tests {
		err := tt.ref.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%#v: err = %v, want ok=%v", tt.ref, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidMailbox) {
			t.Errorf("%#v: error %v is not ErrInvalidMailbox", tt.ref, err)
		}
	}
	if got := (MailboxRef{"a.com", "catchall"}).String(); got != "*@a.com" {
		t.Errorf("catchall String = %q", got)
	}
	if got := (MailboxRef{"a.com", "x"}).String(); got != "x@a.com" {
		t.Errorf("String = %q", got)
	}
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	ok := []string{"2026-09-15-093344-grüße-aus-münchen-an", "2026-10-07-144513-x-2", "a"}
	bad := []string{"", ".", "..", ".hidden", "../x", "a/b", `a\b`, "a\x00b", "/abs", strings.Repeat("a", 251)}
	for _, id := range ok {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	for _, id := range bad {
		if err := ValidateID(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) = %v, want ErrInvalidID", id, err)
		}
	}
	if err := Folder("drafts").Validate(); !errors.Is(err, ErrInvalidFolder) {
		t.Errorf("folder drafts: %v", err)
	}
}
