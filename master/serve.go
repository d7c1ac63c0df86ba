package master

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
)

// Connection states, in the low bits of serverConn.state. While a
// connection is idle the rest of the word is the sweep tick at which it
// became idle (see Master.sweep), so a claim on an idle period can only
// succeed for that period: a connection that served a call and went idle
// again has a different word.
const (
	stateBusy    uint64 = iota // handshaking, reading a request or running a handler
	stateIdle                  // waiting for the first byte of the next request
	stateWoken                 // was idle, and Shutdown claimed it
	stateExpired               // was idle for IdleTimeout, and the sweeper claimed it

	stateBits = 2
	stateMask = 1<<stateBits - 1
)

// lingerTimeout bounds how long a closing connection waits for the peer to
// read what was last sent (see lingerClose).
const lingerTimeout = time.Second

// pastTime is a deadline in the past, to interrupt blocked I/O.
var pastTime = time.Unix(1, 0)

type serverConn struct {
	m     *Master
	c     *conn.Conn
	state atomic.Uint64
	// armed says a deadline may be set on c. Calls without a timeout, the
	// common case, then cost no deadline updates at all: idle connections
	// are timed by the master's sweeper, not by a read deadline re-armed
	// on every call. Only the connection's goroutine uses it.
	armed bool
	op    IOOperator // reused for every call on this connection
	// claimMu makes claiming an idle connection and interrupting its wait
	// one step, so the connection's goroutine, which waits for it when it
	// finds itself claimed, never has its own deadlines overwritten by the
	// claimer's. Only claims take it: the hot path never does.
	claimMu sync.Mutex
}

// wakeIfIdle makes an idle connection's goroutine notice a shutdown.
func (sc *serverConn) wakeIfIdle() {
	sc.claimMu.Lock()
	defer sc.claimMu.Unlock()
	for {
		w := sc.state.Load()
		if w&stateMask != stateIdle {
			return
		}
		if sc.state.CompareAndSwap(w, stateWoken) {
			_ = sc.c.SetReadDeadline(pastTime)
			return
		}
	}
}

// waitForClaim returns once a claim that already changed the state has
// finished setting its deadline.
func (sc *serverConn) waitForClaim() {
	sc.claimMu.Lock()
	defer sc.claimMu.Unlock()
}

// expireIfIdleSince claims the connection for closing if it has been idle
// since sweep tick limit or earlier.
func (sc *serverConn) expireIfIdleSince(limit uint64) {
	w := sc.state.Load()
	if w&stateMask != stateIdle || w>>stateBits > limit {
		return // the common case, without the lock
	}
	sc.claimMu.Lock()
	defer sc.claimMu.Unlock()
	if sc.state.CompareAndSwap(w, stateExpired) {
		_ = sc.c.SetReadDeadline(pastTime)
	}
}

func (sc *serverConn) serve() {
	m, c := sc.m, sc.c
	defer m.forget(sc)
	defer c.Close()
	log := m.cfg.Logger

	if m.cfg.HeaderTimeout > 0 {
		_ = c.SetDeadline(time.Now().Add(m.cfg.HeaderTimeout))
		sc.armed = true
	}
	if err := c.WritePreface(frame.HandshakeOK); err != nil {
		// Over TLS this is where a bad certificate shows: worth a warning.
		level := slog.LevelWarn
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			level = slog.LevelDebug
		}
		log.Log(context.Background(), level, "fastrpc: connection handshake failed", "remote", c.RemoteAddr(), "err", err)
		return
	}
	if _, err := c.ReadPreface(); err != nil {
		log.Warn("fastrpc: bad preface; closing", "remote", c.RemoteAddr(), "err", err)
		lingerClose(c) // a close, not a reset, for a peer still sending
		return
	}
	sc.op.sc = sc
	sc.op.c = c
	sc.op.view.op = &sc.op
	sc.op.remote = c.RemoteAddr()

	for {
		// Deadlines are cleared before the state says idle, so a wake-up
		// from Shutdown or the sweeper cannot be overwritten.
		if sc.armed {
			_ = c.SetDeadline(time.Time{})
			sc.armed = false
		}
		sc.state.Store(m.ticks.Load()<<stateBits | stateIdle)
		if m.shuttingDown.Load() {
			sc.wakeIfIdle()
		}
		err := c.WaitForData()
		if prev := sc.state.Swap(stateBusy); prev&stateMask != stateIdle {
			// Claimed: wait for the claimer to finish interrupting us.
			sc.waitForClaim()
			sc.refuse(prev & stateMask)
			return
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				log.Debug("fastrpc: connection read failed", "remote", c.RemoteAddr(), "err", err)
			}
			return
		}
		if c.Buffered() < frame.RequestHeaderSize {
			// The rest of the header must follow promptly: within
			// HeaderTimeout, or, with that off, IdleTimeout, since a
			// connection holding half a header carries no request.
			if d := cmp.Or(m.cfg.HeaderTimeout, m.cfg.IdleTimeout); d > 0 {
				_ = c.SetReadDeadline(time.Now().Add(d))
				sc.armed = true
			}
		}
		h, err := c.ReadRequestHeader()
		if err != nil {
			log.Warn("fastrpc: bad request header; closing", "remote", c.RemoteAddr(), "err", err)
			return
		}
		if !sc.handle(h) {
			return
		}
	}
}

// refuse ends a connection that Shutdown (state stateWoken) or the idle
// sweeper (stateExpired) claimed while it was idle. If a request started
// arriving, it is answered with StatusShuttingDown: it was not processed.
// Otherwise the same notice goes out unasked, so a slave that is about to
// send on the connection learns it is going away, the way HTTP/2's GOAWAY
// does; a slave retries such a call on another connection.
func (sc *serverConn) refuse(state uint64) {
	c := sc.c
	msg := "master is shutting down; the request was not processed"
	if state == stateExpired {
		msg = "master closed the idle connection; the request was not processed"
	}
	if c.Buffered() > 0 {
		_ = c.SetReadDeadline(time.Now().Add(max(sc.m.cfg.HeaderTimeout, lingerTimeout)))
		if _, err := c.ReadRequestHeader(); err != nil {
			return
		}
	}
	_ = c.SetWriteDeadline(time.Now().Add(lingerTimeout))
	if writeStatus(c, frame.StatusShuttingDown, 0, msg) == nil {
		lingerClose(c)
	}
}

// lingerClose half-closes c and drains what the peer still sends for a
// short while, so the peer reads our last response instead of a reset.
func lingerClose(c *conn.Conn) {
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(lingerTimeout))
	_ = c.Discard(1 << 20)
}

// handle serves one request whose header was read. It reports whether the
// connection is still in a known state and can carry the next request.
func (sc *serverConn) handle(h frame.RequestHeader) bool {
	m, c := sc.m, sc.c
	var deadline time.Time
	if h.Timeout > 0 {
		deadline = time.Now().Add(h.Timeout)
	}
	if !deadline.IsZero() || sc.armed {
		// Replaces the header deadline with the call's own (or none).
		_ = c.SetDeadline(deadline)
		sc.armed = !deadline.IsZero()
	}

	if m.cfg.MaxRequestSize > 0 && h.Length > uint64(m.cfg.MaxRequestSize) {
		m.cfg.Logger.Warn("fastrpc: request too large; closing", "remote", c.RemoteAddr(), "length", h.Length, "limit", m.cfg.MaxRequestSize)
		if deadline.IsZero() {
			_ = c.SetWriteDeadline(time.Now().Add(lingerTimeout))
		}
		msg := fmt.Sprintf("request of %d bytes exceeds the master's limit of %d bytes", h.Length, m.cfg.MaxRequestSize)
		if writeStatus(c, frame.StatusRequestTooLarge, 0, msg) == nil {
			lingerClose(c)
		}
		return false
	}

	mt := m.reg.Load().byID[h.Method]
	if mt == nil {
		if c.Discard(h.Length) != nil {
			return false
		}
		return writeStatus(c, frame.StatusUnknownMethod, 0, fmt.Sprintf("no method with ID %#016x is registered", h.Method)) == nil
	}

	op := &sc.op
	op.reset(mt.name, h.Length, deadline)
	err, panicked := sc.run(mt.handler, op)
	op.release()

	switch {
	case op.broken:
		// A response was started and not finished, or I/O failed.
		return false
	case panicked:
		if !op.responded && writeStatus(c, frame.StatusHandlerPanic, 0, panicMessage) != nil {
			return false
		}
	case err != nil:
		if op.responded {
			m.cfg.Logger.Warn("fastrpc: handler returned an error after responding", "method", mt.name, "err", err)
			break
		}
		status := StatusOf(op, err)
		msg := err.Error()
		if status == frame.StatusHandlerPanic {
			msg = panicMessage // details stay in the master's log
		}
		var code uint32
		var coder ErrorCoder
		if errors.As(err, &coder) {
			code = coder.Code()
		}
		if writeStatus(c, status, code, msg) != nil {
			return false
		}
	case !op.responded:
		if writePayload(c, nil) != nil {
			return false
		}
	}
	// Whatever the handler left unread is discarded so the next request
	// starts on a frame boundary.
	return c.Discard(op.left) == nil
}

// panicMessage is all a slave learns of a panic.
const panicMessage = "handler panicked; see the master's log"

// StatusOf returns the status the master sends for a call whose handler
// returned err: the status already written if the handler responded,
// otherwise StatusOK for nil, and for errors StatusHandlerPanic (ErrPanicked),
// StatusPermissionDenied (ErrPermissionDenied), StatusDeadlineExceeded
// (context.DeadlineExceeded) or StatusApplicationError. Middleware uses it
// to log or count outcomes.
func StatusOf(op *IOOperator, err error) frame.Status {
	switch {
	case op.responded:
		return op.respStatus
	case err == nil:
		return frame.StatusOK
	case errors.Is(err, ErrPanicked):
		return frame.StatusHandlerPanic
	case errors.Is(err, ErrPermissionDenied):
		return frame.StatusPermissionDenied
	case errors.Is(err, context.DeadlineExceeded):
		return frame.StatusDeadlineExceeded
	}
	return frame.StatusApplicationError
}

// run calls the handler, turning a panic into panicked=true with the stack
// logged.
func (sc *serverConn) run(h HandlerFunc, op *IOOperator) (err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			panicked = true
			sc.m.cfg.Logger.Error("fastrpc: handler panicked", "method", op.name, "remote", op.remote, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	return h(op), false
}

// writePayload writes and flushes a StatusOK response.
func writePayload(c *conn.Conn, p []byte) error {
	if err := c.WriteResponseHeader(frame.ResponseHeader{Status: frame.StatusOK, Length: uint64(len(p))}); err != nil {
		return err
	}
	if _, err := c.Write(p); err != nil {
		return err
	}
	return c.Flush()
}

// writeStatus writes and flushes a response with a message, truncated to
// frame.MaxErrorMessage.
func writeStatus(c *conn.Conn, s frame.Status, code uint32, msg string) error {
	if len(msg) > frame.MaxErrorMessage {
		msg = msg[:frame.MaxErrorMessage]
	}
	if err := c.WriteResponseHeader(frame.ResponseHeader{Status: s, Code: code, Length: uint64(len(msg))}); err != nil {
		return err
	}
	if _, err := c.WriteString(msg); err != nil {
		return err
	}
	return c.Flush()
}
