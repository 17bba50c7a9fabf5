package dnsresolver

import (
	"errors"
	"net"
)

// ErrNotFound matches (errors.Is) a lookup whose answer was authoritative
// and empty: NXDOMAIN, or NODATA (the name exists without records of the
// type). Callers such as SPF turn it into a definite "none"; it is cached.
var ErrNotFound = errors.New("dns: not found")

// ErrTemporary matches (errors.Is) a lookup that could not be answered now:
// SERVFAIL, REFUSED, a timeout, a network error or a cancelled context.
// Callers such as SPF and DKIM turn it into "temperror"; it is not cached.
var ErrTemporary = errors.New("dns: temporary failure")

// Error is the error of one failed lookup. It matches ErrNotFound or
// ErrTemporary with errors.Is and unwraps to its cause (for example
// context.DeadlineExceeded).
type Error struct {
	Name     string // the name looked up, as given
	Type     string // "TXT", "MX", "A", "AAAA" or "IP"
	NotFound bool   // NXDOMAIN or NODATA; otherwise temporary
	NXDomain bool   // the name does not exist at all (a subset of NotFound)
	Err      error  // the cause, may be nil
}

// Error renders the failure for logs.
func (e *Error) Error() string {
	kind := "temporary failure"
	switch {
	case e.NXDomain:
		kind = "no such domain"
	case e.NotFound:
		kind = "no records"
	}
	s := "dns lookup " + e.Type + " " + e.Name + ": " + kind
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether e is of the kind target names (ErrNotFound or
// ErrTemporary).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.NotFound
	case ErrTemporary:
		return !e.NotFound
	}
	return false
}

// IsNotFound reports whether err says the name or the records do not exist.
// It also understands *net.DNSError, so a caller may pass errors from any
// resolver.
func IsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

func notFound(name, typ string, nxdomain bool) *Error {
	return &Error{Name: name, Type: typ, NotFound: true, NXDomain: nxdomain}
}

func temporary(name, typ string, cause error) *Error {
	return &Error{Name: name, Type: typ, Err: cause}
}
