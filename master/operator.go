package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
)

// Errors an IOOperator returns to its handler.
var (
	// ErrAlreadyResponded is returned by a Write method after a response
	// was already written: a call has exactly one response.
	ErrAlreadyResponded = errors.New("fastrpc: handler already wrote its response")
	// ErrBeyondRequest is returned when a handler asks for more request
	// bytes than are left.
	ErrBeyondRequest = errors.New("fastrpc: read beyond the end of the request")
	// ErrPermissionDenied, returned (wrapped) by a handler or middleware,
	// refuses the call with StatusPermissionDenied and the error's message.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrPanicked, returned (wrapped) by a handler or middleware that
	// recovered a panic, answers StatusHandlerPanic with a generic message:
	// the details belong in the master's log, not with the peer.
	ErrPanicked = errors.New("handler panicked")
)

// ErrorCoder is implemented by handler errors that carry an application
// error code; the code reaches the slave in the response header.
type ErrorCoder interface {
	Code() uint32
}

// IOOperator is a handler's view of one call: the request payload to read
// and the response to write. It is valid only until the handler returns and
// is not safe for concurrent use.
//
// The request payload streams from the connection: read it with Read (an
// io.Reader, allocation-free), WriteTo, ReadIOStream or ReadAll. Whatever
// the handler leaves unread is discarded after it returns.
//
// The response is written once, with WriteIOFromBuffer, WriteIOFromReader,
// WriteNothing, WriteError or WriteErrorCode. If the handler writes nothing
// the slave gets an empty successful response, or, if the handler returned
// an error, that error's message.
type IOOperator struct {
	sc     *serverConn
	c      *conn.Conn
	remote net.Addr

	name       string
	reqLen     uint64
	left       uint64
	respStatus frame.Status
	respLen    uint64
	deadline   time.Time
	view       opContext // what Context returns
	ctx        context.Context
	cancel     context.CancelFunc
	responded  bool
	broken     bool
}

func (op *IOOperator) reset(name string, length uint64, deadline time.Time) {
	op.name, op.reqLen, op.left, op.deadline = name, length, length, deadline
	op.responded, op.broken = false, false
	op.respStatus, op.respLen = frame.StatusOK, 0
}

func (op *IOOperator) release() {
	if op.cancel != nil {
		op.cancel()
		op.cancel = nil
	}
	op.ctx = nil
}

// Method returns the name of the method being called.
func (op *IOOperator) Method() string { return op.name }

// RemoteAddr returns the slave's address.
func (op *IOOperator) RemoteAddr() net.Addr { return op.remote }

// NetConn returns the connection the call arrived on, for example a
// *tls.Conn whose verified peer certificates identify the caller. Reading
// from or writing to it directly breaks the protocol. Deadlines set on it
// stay in force until the call is over; the master then clears them.
func (op *IOOperator) NetConn() net.Conn {
	op.sc.armed = true // the handler may set deadlines; clear them after
	return op.c.NetConn()
}

// RequestLength returns the request payload's length.
func (op *IOOperator) RequestLength() uint64 { return op.reqLen }

// Responded reports whether a response has been written.
func (op *IOOperator) Responded() bool { return op.responded }

// ResponseLength returns the payload length of the response written, 0
// before one is.
func (op *IOOperator) ResponseLength() uint64 { return op.respLen }

// Deadline returns the call's deadline, sent by the slave, if it has one.
func (op *IOOperator) Deadline() (time.Time, bool) { return op.deadline, !op.deadline.IsZero() }

// Context returns the call's context: cancelled at the call's deadline and
// when the master is closed (by Close, or by a Shutdown whose own context
// ended), and carrying the IOOperator for OperatorFrom. Like the
// IOOperator, it is valid only until the handler returns. The cancellable
// part is built on first use, so handlers that never wait on it pay
// nothing.
func (op *IOOperator) Context() context.Context { return &op.view }

// inner is the context behind Context, built on first use.
func (op *IOOperator) inner() context.Context {
	if op.ctx == nil {
		if op.deadline.IsZero() {
			op.ctx = op.sc.m.ctx
		} else {
			op.ctx, op.cancel = context.WithDeadline(op.sc.m.ctx, op.deadline)
		}
	}
	return op.ctx
}

// opContext is the context a call's Context returns: the master's context
// (with the call's deadline) plus the IOOperator as a value. It lives in the
// IOOperator, so handing it out allocates nothing.
type opContext struct{ op *IOOperator }

type operatorKey struct{}

func (c *opContext) Deadline() (time.Time, bool) { return c.op.Deadline() }
func (c *opContext) Done() <-chan struct{}       { return c.op.inner().Done() }
func (c *opContext) Err() error                  { return c.op.inner().Err() }

// Value returns the IOOperator for OperatorFrom and defers every other key
// to the inner context (which also lets the context package see through to
// it, instead of starting a goroutine for derived contexts).
func (c *opContext) Value(key any) any {
	if key == (operatorKey{}) {
		return c.op
	}
	return c.op.inner().Value(key)
}

// OperatorFrom returns the IOOperator of the call ctx belongs to (ctx being
// its Context, or derived from it), or nil. Layers that give handlers only a
// context, such as typed handlers, use it to reach the call: its remote
// address, its connection and TLS identity.
func OperatorFrom(ctx context.Context) *IOOperator {
	op, _ := ctx.Value(operatorKey{}).(*IOOperator)
	return op
}

// ReadDataLeft returns how many request bytes have not been read yet.
func (op *IOOperator) ReadDataLeft() uint64 { return op.left }

// Read reads request bytes into p; it returns io.EOF once the request is
// consumed. It allocates nothing.
func (op *IOOperator) Read(p []byte) (int, error) {
	if op.left == 0 {
		return 0, io.EOF
	}
	if uint64(len(p)) > op.left {
		p = p[:op.left]
	}
	n, err := op.c.Read(p)
	op.left -= uint64(n)
	if err != nil {
		op.broken = true
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	return n, err
}

// ReadIOStream reads exactly count request bytes into a new slice. Asking
// for more than ReadDataLeft returns ErrBeyondRequest and reads nothing.
func (op *IOOperator) ReadIOStream(count int) ([]byte, error) {
	if count < 0 || uint64(count) > op.left {
		return nil, fmt.Errorf("%w: asked for %d bytes, %d left", ErrBeyondRequest, count, op.left)
	}
	b := make([]byte, count)
	if _, err := io.ReadFull(op, b); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadAll reads the rest of the request into a new slice.
func (op *IOOperator) ReadAll() ([]byte, error) {
	return op.ReadIOStream(int(op.left))
}

// WriteTo copies the rest of the request to w through the connection's
// buffer, so memory stays bounded whatever the request's size.
func (op *IOOperator) WriteTo(w io.Writer) (int64, error) {
	ew := &errWriter{w: w, op: op}
	n, err := op.c.CopyTo(ew, op.left)
	if err != nil && ew.err == nil {
		op.broken = true // the connection failed, not w
	}
	return n, err
}

// errWriter remembers whether its writer failed. conn.CopyTo consumes each
// slice from the connection before handing it over, so the slice is counted
// as read before w sees it: op.left stays exact even if w fails or panics,
// and the master discards exactly the rest of the request.
type errWriter struct {
	w   io.Writer
	op  *IOOperator
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	e.op.left -= uint64(len(p))
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

func (op *IOOperator) begin(status frame.Status, length uint64) error {
	if op.responded {
		return ErrAlreadyResponded
	}
	if op.broken {
		return errors.New("fastrpc: connection broken; cannot respond")
	}
	op.responded, op.respStatus, op.respLen = true, status, length
	return nil
}

func (op *IOOperator) fail(err error) error {
	if err != nil {
		op.broken = true
	}
	return err
}

// WriteIOFromBuffer sends buf as the successful response.
func (op *IOOperator) WriteIOFromBuffer(buf []byte) error {
	if err := op.begin(frame.StatusOK, uint64(len(buf))); err != nil {
		return err
	}
	return op.fail(writePayload(op.c, buf))
}

// WriteIOFromReader sends exactly count bytes read from reader as the
// successful response, reading at most chunkSize bytes at a time (0 means
// the connection's buffer size). Memory stays bounded whatever count is. If
// reader ends early the response cannot be completed: the connection is
// closed after the handler returns and the slave's call fails.
func (op *IOOperator) WriteIOFromReader(reader io.Reader, count int, chunkSize int) error {
	if count < 0 {
		return fmt.Errorf("fastrpc: WriteIOFromReader: negative count %d", count)
	}
	if err := op.begin(frame.StatusOK, uint64(count)); err != nil {
		return err
	}
	if err := op.c.WriteResponseHeader(frame.ResponseHeader{Status: frame.StatusOK, Length: uint64(count)}); err != nil {
		return op.fail(err)
	}
	// Until the response is complete the connection is out of step; should
	// reader panic, the connection must be closed, not reused.
	op.broken = true
	if _, err := op.c.CopyFrom(reader, uint64(count), chunkSize); err != nil {
		return fmt.Errorf("fastrpc: WriteIOFromReader: %w", err)
	}
	if err := op.c.Flush(); err != nil {
		return err
	}
	op.broken = false
	return nil
}

// WriteNothing sends an empty successful response.
func (op *IOOperator) WriteNothing() error {
	return op.WriteIOFromBuffer(nil)
}

// WriteError sends an application error with message. The slave's call
// returns it as a *slave.RemoteError.
func (op *IOOperator) WriteError(message string) error {
	return op.WriteErrorCode(0, message)
}

// WriteErrorCode sends an application error with an application-defined
// code and message.
func (op *IOOperator) WriteErrorCode(code uint32, message string) error {
	if err := op.begin(frame.StatusApplicationError, uint64(min(len(message), frame.MaxErrorMessage))); err != nil {
		return err
	}
	return op.fail(writeStatus(op.c, frame.StatusApplicationError, code, message))
}
