package errtext

import (
	"fmt"
	"strings"
)

// Prefix starts every error message the library returns.
const Prefix = "fastrpc: "

// Errorf is fmt.Errorf for the library's errors: the message gets Prefix
// once, and every error argument is shown without its own Prefix, so
// wrapping a library error does not repeat it. %w arguments are wrapped as
// with fmt.Errorf.
func Errorf(format string, args ...any) error {
	wrapped := fmt.Errorf(format, args...)
	shown := make([]any, len(args))
	for i, a := range args {
		if e, ok := a.(error); ok && e != nil {
			shown[i] = bare{e}
		} else {
			shown[i] = a
		}
	}
	msg := fmt.Errorf(format, shown...).Error()
	if !strings.HasPrefix(msg, Prefix) {
		msg = Prefix + msg
	}
	return &withText{msg: msg, err: wrapped}
}

// Text returns err's message without its leading Prefix.
func Text(err error) string {
	return strings.TrimPrefix(err.Error(), Prefix)
}

// bare shows an error without its Prefix.
type bare struct{ error }

func (b bare) Error() string { return Text(b.error) }

// withText is an error whose message is msg and whose chain is err's.
type withText struct {
	msg string
	err error
}

func (w *withText) Error() string { return w.msg }

// Unwrap returns what fmt.Errorf wrapped: one error or several.
func (w *withText) Unwrap() []error {
	switch u := w.err.(type) {
	case interface{ Unwrap() []error }:
		return u.Unwrap()
	case interface{ Unwrap() error }:
		if e := u.Unwrap(); e != nil {
			return []error{e}
		}
	}
	return nil
}
