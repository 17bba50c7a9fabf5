package admin

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes of the operator API (book/admin.md).
const (
	CodeValidation = "validation"
	CodeNotFound   = "not_found"
	CodeConflict   = "conflict"
	CodeNonEmpty   = "nonempty"
	CodeForbidden  = "forbidden"
	CodeInternal   = "internal"
)

// Error is a failure of an operator operation as the API reports it: a
// code from the fixed set of book/admin.md, a sentence for the operator, and the
// HTTP status it travels with. The same value comes back from the Client,
// so the CLI prints the same message whether it used the socket or
// edited the files itself.
type Error struct {
	// Status is the HTTP status; it is not part of the JSON body.
	Status int `json:"-"`
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message says what went wrong and, where it can, what to do.
	Message string `json:"message"`
	// Messages is how many messages a nonempty mailbox holds.
	Messages int `json:"messages,omitempty"`
	// Mailboxes lists the mailboxes that block a domain removal.
	Mailboxes []string `json:"mailboxes,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// statusOf is the HTTP status of each code.
var statusOf = map[string]int{
	CodeValidation: http.StatusBadRequest,
	CodeNotFound:   http.StatusNotFound,
	CodeConflict:   http.StatusConflict,
	CodeNonEmpty:   http.StatusConflict,
	CodeForbidden:  http.StatusForbidden,
	CodeInternal:   http.StatusInternalServerError,
}

// apiErr builds an *Error with the status of its code.
func apiErr(code, format string, args ...any) *Error {
	return &Error{Status: statusOf[code], Code: code, Message: fmt.Sprintf(format, args...)}
}

// asAPIError returns err as an *Error: itself when it is one, else an
// internal error carrying its text (the operator is the one reading it,
// and the detail helps them).
func asAPIError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Status == 0 {
			e.Status = statusOf[e.Code]
		}
		return e
	}
	return apiErr(CodeInternal, "%v", err)
}
