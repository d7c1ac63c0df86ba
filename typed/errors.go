package typed

import (
	"errors"
	"fmt"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/slave"
)

// Application error codes the typed layer itself sends. They sit at the top
// of the uint32 range: codes below CodeReserved are the application's own.
const (
	// CodeReserved is the lowest code reserved for the typed layer.
	CodeReserved uint32 = 0xFFFF_FF00
	// CodeBadRequest: the master could not decode the request into the
	// handler's request type (wrong codec, wrong type, truncated or hostile
	// bytes). The message names the method, the codec and the Go type.
	CodeBadRequest uint32 = 0xFFFF_FF01
	// CodeBadResponse: the master could not encode the handler's response
	// with the method's codec.
	CodeBadResponse uint32 = 0xFFFF_FF02
)

// Errors of the slave side, matched with errors.Is. Nothing was sent when
// a call fails with one of them.
var (
	// ErrNoCodec: the master advertises an encoding for the method that
	// no codec registered on this slave has (the message lists the known
	// ones), or advertises none at all; pass WithCodec, or import the
	// package that registers the codec.
	ErrNoCodec = errors.New("fastrpc: typed: no codec for the method's encoding")
	// ErrCodecMismatch: WithCodec forced a codec other than the one the
	// master advertises for the method.
	ErrCodecMismatch = errors.New("fastrpc: typed: codec differs from the one the master advertises")
)

// Error is an application error with a code.
//
// On the master, a handler returns one (usually from Errorf) and the code
// travels in the response header, as with master.WithCode; the message is
// Error().
//
// On the slave, Call returns a *Error for every application error the
// master sent (its handler's error, or the typed layer's own CodeBadRequest
// and CodeBadResponse), whatever the handler returned: errors.As with a
// *Error gives the code and message. It wraps the *slave.RemoteError the
// raw path would have returned, so errors.As with *slave.RemoteError and
// errors.Is with slave.ErrApplication work as they do for raw calls.
type Error struct {
	// AppCode is the application error code, 0 when none. (A field
	// cannot be called Code: the method Code is how the master finds the
	// code of an error a handler returns; see master.WithCode.)
	AppCode uint32
	// Message is the error's text; on the slave, the master's message.
	Message string
	// Remote is set on errors returned by Call and Method.Call: the
	// response as the raw path reports it.
	Remote *slave.RemoteError

	err error // what Unwrap returns: the wrapped cause, or the call's error
}

// Errorf returns a *Error for a typed handler to return: code and a
// message formatted as fmt.Errorf does. The master sends the code as it
// does for master.WithCode (it reads any error's Code method); errors
// wrapped with %w stay reachable through Unwrap on the master side.
func Errorf(code uint32, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	e := &Error{AppCode: code, Message: err.Error()}
	if u, ok := err.(interface{ Unwrap() error }); ok {
		e.err = u.Unwrap()
	} else if _, ok := err.(interface{ Unwrap() []error }); ok {
		e.err = err
	}
	return e
}

// Error returns the message; on the slave, the raw call's full error text
// (method, status, code and message).
func (e *Error) Error() string {
	if e.err != nil && e.Remote != nil {
		return e.err.Error()
	}
	return e.Message
}

// Code returns AppCode. A handler returning a *Error sends that code, as
// with master.WithCode.
func (e *Error) Code() uint32 { return e.AppCode }

// Unwrap returns, on the slave, the call's error (which holds the
// *slave.RemoteError); on the master, the error wrapped by Errorf's %w, if
// any.
func (e *Error) Unwrap() error { return e.err }

// fromCall turns the error of a raw call into what Call returns: a *Error
// for an application error, err unchanged otherwise.
func fromCall(err error) error {
	var re *slave.RemoteError
	if !errors.As(err, &re) || re.Status != frame.StatusApplicationError {
		return err
	}
	return &Error{AppCode: re.Code, Message: re.Message, Remote: re, err: err}
}

// DecodeError is a payload that its codec could not decode into the Go
// type it was meant for. The slave returns it for a response; the master
// sends its text to the caller, as a *Error with CodeBadRequest, for a
// request.
type DecodeError struct {
	Method string // the method called
	Codec  string // the codec's name
	Type   string // the Go type decoded into
	What   string // "request" or "response"
	Err    error  // the codec's error
}

// Error says which method, codec and type failed, and why.
func (e *DecodeError) Error() string {
	return errtext.Errorf("typed: method %q: cannot decode the %s with codec %s into %s: %v", e.Method, e.What, e.Codec, e.Type, e.Err).Error()
}

// Unwrap returns the codec's error.
func (e *DecodeError) Unwrap() error { return e.Err }
