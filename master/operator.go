package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/internal/mdkey"
	"github.com/AmanTrance/FastRpc/metadata"
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
	// It and ErrPanicked are the two errors without the "fastrpc: "
	// prefix: they are markers to wrap (fmt.Errorf("user %s: %w", u,
	// ErrPermissionDenied)), and their text becomes the message the slave
	// gets.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrPanicked, returned (wrapped) by a handler or middleware that
	// recovered a panic, answers StatusHandlerPanic with a generic message:
	// the details belong in the master's log, not with the peer.
	ErrPanicked = errors.New("handler panicked")
	// ErrSlaveGone is the cause (context.Cause) of a call's context
	// cancelled because its slave closed the connection while the handler
	// ran: nobody will read the answer.
	ErrSlaveGone = errors.New("fastrpc: the slave closed the connection; nobody is waiting for this call's answer")
	// ErrCancelled is the cause (context.Cause) of a call's context
	// cancelled because its slave sent a cancel frame (protocol version
	// 2): the caller gave up. A handler that returns it, or
	// context.Canceled, answers StatusCancelled.
	ErrCancelled = errors.New("fastrpc: the slave cancelled the call; nobody is waiting for its answer")
)

// WithCode returns err carrying an application error code: a handler that
// returns it without having responded sends err's message with code, which
// the slave's call returns in its *slave.RemoteError. It returns nil for a
// nil err. errors.Is and errors.As see through it to err.
//
// The master takes the code of the first error in the chain with a method
// Code() uint32, so an error type of the application's own with that
// method works too (as typed.Error does).
func WithCode(err error, code uint32) error {
	if err == nil {
		return nil
	}
	return &codedError{err: err, code: code}
}

type codedError struct {
	err  error
	code uint32
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }
func (e *codedError) Code() uint32  { return e.code }

// errorCode is the code WithCode (or an error's own Code method) gives err.
func errorCode(err error) uint32 {
	var coder interface{ Code() uint32 }
	if errors.As(err, &coder) {
		return coder.Code()
	}
	return 0
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
// WriteNothing or WriteError. If the handler writes nothing the slave gets
// an empty successful response, or, if the handler returned an error, that
// error's message (with a code, see WithCode).
//
// ReadDataLeft, ReadIOStream, WriteIOFromBuffer and WriteIOFromReader are
// the original API's names, kept as they are.
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
	ctx        *callContext    // what Context returns, made on first use
	userCtx    context.Context // set by SetContext; derives from ctx
	md         metadata.MD     // the request's metadata
	respMD     metadata.MD     // the response's, set by the handler
	responded  bool
	broken     bool
}

func (op *IOOperator) reset(name string, length uint64, deadline time.Time) {
	op.name, op.reqLen, op.left, op.deadline = name, length, length, deadline
	op.responded, op.broken = false, false
	op.respStatus, op.respLen = frame.StatusOK, 0
}

// release ends the call's context, if the handler asked for one: it is
// cancelled, and no longer leads to this IOOperator, which serves the
// connection's next call.
func (op *IOOperator) release() {
	op.userCtx = nil
	if op.ctx != nil {
		op.sc.cur.Store(nil)
		op.ctx.op.Store(nil)
		op.ctx.end(context.Canceled)
		op.ctx = nil
	}
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

// Metadata returns the metadata the call arrived with (protocol version
// 2), nil when none; the handler's context carries it too, for
// metadata.FromIncomingContext. It must not be changed, and it is not
// valid after the handler returns.
func (op *IOOperator) Metadata() metadata.MD { return op.md }

// SetResponseMetadata sets the metadata the response carries back, such
// as a request ID or server timing; it must be called before the response
// is written (ErrAlreadyResponded after), and md is checked against the
// limits (an error matching frame.ErrMetadata) and copied. A slave
// speaking protocol version 1 cannot receive it: it is dropped for that
// slave.
func (op *IOOperator) SetResponseMetadata(md metadata.MD) error {
	if op.responded {
		return ErrAlreadyResponded
	}
	if err := md.Check(); err != nil {
		return errtext.Errorf("response metadata: %w", err)
	}
	op.respMD = slices.Clone(md) // as checked, whatever the caller does with md
	return nil
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

// Context returns the call's own context. It is cancelled at the call's
// deadline, when the slave closes the connection while the handler runs
// (context.Cause is then ErrSlaveGone) or cancels the call (ErrCancelled),
// when the master is closed (by
// Close, or by a Shutdown whose own context ended; cause ErrClosed), and
// when the handler returns. It carries the IOOperator for OperatorFrom
// while the call runs. A handler may keep it, or contexts derived from it,
// after returning: it stays cancelled, keeps its deadline, and
// OperatorFrom then returns nil, since the IOOperator serves the
// connection's next call. Made on first use: handlers that never ask pay
// nothing, those that do pay one small allocation.
func (op *IOOperator) Context() context.Context {
	if op.userCtx != nil {
		return op.userCtx
	}
	if op.ctx == nil {
		op.ctx = op.sc.newCallContext(op)
	}
	return op.ctx
}

// SetContext makes Context return ctx for the rest of the call: for
// middleware that gives the handler a context with more values, such as a
// trace span (ctx = trace.ContextWithSpan(op.Context(), span)). ctx must
// derive from op.Context(), so it still ends with the call and still
// leads to this IOOperator; SetContext panics otherwise, as a programming
// error.
func (op *IOOperator) SetContext(ctx context.Context) {
	if OperatorFrom(ctx) != op {
		panic("fastrpc: IOOperator.SetContext: the context does not derive from the call's own (op.Context())")
	}
	op.userCtx = ctx
}

// newCallContext makes the context of the call op serves.
func (sc *serverConn) newCallContext(op *IOOperator) *callContext {
	cc := &callContext{deadline: op.deadline, md: op.md}
	cc.op.Store(op)
	sc.cur.Store(cc)
	// Close and the peer watcher end the context in cur; one that ended
	// before cur was set is seen here.
	switch {
	case sc.m.ctx.Err() != nil:
		cc.end(ErrClosed)
	case sc.peerGone.Load():
		cc.end(ErrSlaveGone)
	case sc.cancelled.Load():
		cc.end(ErrCancelled)
	}
	return cc
}

// callContext is a call's context. Its cancellable part, a standard
// context, is built on first use; Value defers to it, which lets the
// context package see through to it instead of starting a goroutine for
// each derived context.
type callContext struct {
	op       atomic.Pointer[IOOperator] // nil once the call is over
	md       metadata.MD                // the call's own: op's serves the next call
	deadline time.Time
	std      atomic.Pointer[stdContext]
	mu       sync.Mutex // guards building std and ended
	ended    error      // the cause it ended with, nil while it runs
}

type stdContext struct {
	ctx          context.Context
	cancel       context.CancelCauseFunc
	stopDeadline context.CancelFunc
}

type operatorKey struct{}

func (c *callContext) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }
func (c *callContext) Done() <-chan struct{}       { return c.inner().Done() }

// Err answers from the cause and the deadline until the standard context
// exists, so a handler that only polls Err allocates nothing more.
func (c *callContext) Err() error {
	if s := c.std.Load(); s != nil {
		return s.ctx.Err()
	}
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	switch {
	case ended != nil:
		if errors.Is(ended, context.DeadlineExceeded) {
			return context.DeadlineExceeded
		}
		return context.Canceled
	case !c.deadline.IsZero() && !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

// Value returns the IOOperator for OperatorFrom and the request's
// metadata for metadata.FromIncomingContext while the call runs, and
// defers every other key to the standard context beneath.
func (c *callContext) Value(key any) any {
	switch key {
	case operatorKey{}:
		return c.op.Load()
	case mdkey.Incoming{}:
		return c.md
	}
	return c.inner().Value(key)
}

func (c *callContext) inner() context.Context {
	if s := c.std.Load(); s != nil {
		return s.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.std.Load(); s != nil {
		return s.ctx
	}
	s := &stdContext{stopDeadline: func() {}}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	// A cause recorded already wins over a deadline passed since, as Err
	// said: the base is cancelled before the deadline is added.
	if c.ended != nil && c.ended != context.DeadlineExceeded {
		s.cancel(c.ended) // (a passed deadline is the child's, below)
	}
	if !c.deadline.IsZero() {
		s.ctx, s.stopDeadline = context.WithDeadline(s.ctx, c.deadline)
	}
	c.std.Store(s)
	return s.ctx
}

// end cancels the context with cause; the first cause stays.
func (c *callContext) end(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended != nil {
		return
	}
	if c.std.Load() == nil && !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
		cause = context.DeadlineExceeded // what Err already says
	}
	c.ended = cause
	if s := c.std.Load(); s != nil {
		s.cancel(cause)
		s.stopDeadline()
	}
}

// OperatorFrom returns the IOOperator of the call ctx belongs to (ctx being
// its Context, or derived from it), or nil, also once that call is over.
// Layers that give handlers only a context, such as typed handlers, use it
// to reach the call: its remote address, its connection and TLS identity.
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
	var n int
	var err error
	if connHooks.Buffered(op.c) > 0 {
		n, err = op.c.Read(p)
	} else {
		op.sc.await(ioRead)
		n, err = op.c.Read(p)
		if e := op.sc.arrived(n + connHooks.Buffered(op.c)); e != nil {
			err = e
		}
	}
	op.left -= uint64(n)
	if err != nil {
		op.broken = true
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	} else if op.left == 0 {
		op.sc.armWatch()
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
	if op.left == 0 {
		return 0, nil
	}
	ew := &op.sc.ew
	*ew = errWriter{w: w, op: op}
	defer func() { ew.w = nil }()
	op.sc.await(ioRead) // time in CopyTo but outside w counts for BodyTimeout
	n, err := op.c.CopyTo(ew, op.left)
	if e := op.sc.arrived(0); e != nil && ew.err == nil {
		err = e
	}
	if err != nil && ew.err == nil {
		op.broken = true // the connection failed, not w
	}
	if err == nil && op.left == 0 {
		op.sc.armWatch()
	}
	return n, err
}

// errWriter remembers whether its writer failed. conn.CopyTo consumes each
// slice from the connection before handing it over, so the slice is counted
// as read before w sees it: op.left stays exact even if w fails or panics,
// and the master discards exactly the rest of the request. The time w
// takes is the handler's, not the peer's: it does not count for
// BodyTimeout.
type errWriter struct {
	w   io.Writer
	op  *IOOperator
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	e.op.left -= uint64(len(p))
	if err := e.op.sc.arrived(len(p)); err != nil {
		return 0, err // the sweeper cut the connection: stop here
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	if e.op.left > 0 {
		e.op.sc.await(ioRead)
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
	return op.fail(op.sc.writePayload(buf))
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
	if err := op.sc.writeResponseHeader(frame.ResponseHeader{Status: frame.StatusOK, Length: uint64(count)}); err != nil {
		return op.fail(err)
	}
	// Until the response is complete the connection is out of step; should
	// reader panic, the connection must be closed, not reused.
	op.broken = true
	pr := &op.sc.pr
	*pr = progressReader{r: reader, sc: op.sc}
	defer func() { pr.r = nil }()
	sent, err := op.c.CopyFrom(pr, uint64(count), chunkSize)
	if e := op.sc.arrived(pr.last); e != nil && err == nil {
		err = e
	}
	if err != nil {
		if pr.err != nil || errors.Is(err, io.ErrUnexpectedEOF) {
			// The handler's reader failed or ended: the slave will see a
			// response cut short, and this log says why.
			op.sc.m.cfg.Logger.Warn("fastrpc: the handler's response ended early; closing the connection",
				"method", op.name, "remote", op.remote, "promised", count, "sent", sent, "err", err)
		}
		return errtext.Errorf("WriteIOFromReader: the response ended after %d of %d bytes: %w", sent, count, err)
	}
	if err := op.sc.flush(); err != nil {
		return err
	}
	op.broken = false
	return nil
}

// progressReader feeds a streamed response to the connection: each Read
// means the chunk before it was written, so the wait for the peer to take
// it is counted for WriteTimeout, and the reader's own time is not.
type progressReader struct {
	r    io.Reader
	sc   *serverConn
	last int   // bytes of the chunk being written
	err  error // the reader's own error, other than io.EOF
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.sc.arrived(p.last); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		p.err = err
	}
	p.last = n
	p.sc.await(ioWrite)
	return n, err
}

// WriteNothing sends an empty successful response.
func (op *IOOperator) WriteNothing() error {
	return op.WriteIOFromBuffer(nil)
}

// WriteError sends an application error with message. The slave's call
// returns it as a *slave.RemoteError. To send a code as well, return
// WithCode(err, code) from the handler instead.
func (op *IOOperator) WriteError(message string) error {
	return op.writeError(0, message)
}

// writeError sends an application error with code and message.
func (op *IOOperator) writeError(code uint32, message string) error {
	if err := op.begin(frame.StatusApplicationError, uint64(min(len(message), frame.MaxErrorMessage))); err != nil {
		return err
	}
	return op.fail(op.sc.writeStatus(frame.StatusApplicationError, code, message))
}
