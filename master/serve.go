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
	"github.com/AmanTrance/FastRpc/metadata"
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

// Kinds of waits on the peer, in serverConn.ioWait.
const (
	ioRead    uint64 = 1
	ioWrite   uint64 = 2
	ioStalled uint64 = 3
	ioBits           = 2
	ioMask           = 1<<ioBits - 1
)

// ProgressQuantum is how many bytes of a request payload or a response
// count as progress for Config.BodyTimeout and Config.WriteTimeout: each
// timeout's worth of waiting on the peer must move this much (or the rest
// of the payload). Where the socket's send queue cannot be read (outside
// Linux), responses held in memory are written in pieces of this size so
// that progress is seen while they go out.
const ProgressQuantum = 64 << 10

// errStalled is what a read or write gets when the sweeper cut it short.
var errStalled = errors.New("fastrpc: the peer made no progress within the master's timeout; the connection is closed")

// await marks the connection's goroutine as about to block on the peer.
func (sc *serverConn) await(kind uint64) {
	sc.ioWait.Store((sc.m.ticks.Load()-sc.waited[kind])<<ioBits | kind)
}

// arrived ends a wait (if one is under way) in which n bytes moved. It
// returns errStalled if the sweeper cut the wait short.
func (sc *serverConn) arrived(n int) error {
	w := sc.ioWait.Swap(0)
	kind := w & ioMask
	switch kind {
	case 0:
		return nil
	case ioStalled:
		sc.stalled, sc.stalledKind = true, w>>ioBits
		return errStalled
	}
	if sc.moved[kind] += uint64(n); sc.moved[kind] >= ProgressQuantum {
		sc.moved[kind], sc.waited[kind] = 0, 0
	} else {
		sc.waited[kind] = sc.m.ticks.Load() - w>>ioBits
	}
	return nil
}

// startProgress begins a request payload or a response: it gets the whole
// timeout again.
func (sc *serverConn) startProgress(kind uint64) { sc.waited[kind], sc.moved[kind] = 0, 0 }

// interruptIfStalled cuts the I/O of a connection that has waited on its
// peer for longer than the timeout of that direction, at sweep tick now.
func (sc *serverConn) interruptIfStalled(now uint64) {
	w := sc.ioWait.Load()
	var limit uint64
	switch w & ioMask {
	case ioRead:
		limit = sc.m.bodyTicks
	case ioWrite:
		limit = sc.m.writeTicks
	default:
		return
	}
	if limit == 0 {
		return
	}
	if w&ioMask == ioWrite {
		// A blocked write returns only once the kernel has drained a
		// large part of the send buffer, so a slow but steady reader shows
		// its progress in the socket's send queue first: what it took
		// since the last sample counts as progress.
		if q, ok := connHooks.Unsent(sc.c); ok {
			switch {
			case sc.sampledWait != w:
				sc.sampledWait, sc.sampledUnsent = w, q
			case sc.sampledUnsent-q >= ProgressQuantum:
				restarted := now<<ioBits | ioWrite
				if sc.ioWait.CompareAndSwap(w, restarted) {
					sc.sampledWait, sc.sampledUnsent = restarted, q
				}
				return
			}
		}
	}
	if now < w>>ioBits+limit+2 {
		return
	}
	sc.claimMu.Lock()
	defer sc.claimMu.Unlock()
	if sc.ioWait.CompareAndSwap(w, (w&ioMask)<<ioBits|ioStalled) {
		_ = sc.c.SetDeadline(pastTime)
	}
}

// logStall reports a connection the sweeper cut.
func (sc *serverConn) logStall(method string) {
	if sc.stalledKind == ioWrite {
		sc.m.cfg.Logger.Warn("fastrpc: the slave read less than ProgressQuantum of its response within WriteTimeout; closing the connection",
			"remote", sc.c.RemoteAddr(), "method", method, "timeout", sc.m.cfg.WriteTimeout, "progress_quantum", ProgressQuantum)
		return
	}
	sc.m.cfg.Logger.Warn("fastrpc: the request payload made no progress within BodyTimeout; closing the connection",
		"remote", sc.c.RemoteAddr(), "method", method, "timeout", sc.m.cfg.BodyTimeout, "progress_quantum", ProgressQuantum)
}

// States of the peer watcher, in serverConn.watchState.
const (
	watchOff      int32 = iota // not armed
	watchArmed                 // Master.watchCalls will start it
	watchRunning               // waiting for the peer to send or leave
	watchStopping              // the handler returned; the watch is being ended
	watchGone                  // the peer left
)

// watchDelay is how long a handler runs, after its request was read,
// before the master starts watching for its slave leaving. Calls shorter
// than that pay a clock read and two atomic stores; longer ones pay one
// goroutine and a blocked read, and learn of a departed slave within about
// watchDelay (see Master.watchCalls).
const watchDelay = time.Millisecond

// armWatch marks the handler as watchable: the request has been read, so
// nothing more should arrive until the response is out, and what does is
// either the slave leaving or bytes for later. No timer: one per call
// costs a netpoller wake-up, about half a small call's time on loopback.
func (sc *serverConn) armWatch() {
	if sc.noWatch || sc.watchState.Load() != watchOff {
		return
	}
	sc.watchSince.Store(int64(monoNow()))
	sc.watchState.Store(watchArmed)
	if sc.m.watchIdle.Load() {
		sc.m.wakeWatcher()
	}
}

// watchIfSlow starts the peer watcher of a handler armed for watchDelay.
func (sc *serverConn) watchIfSlow(now time.Duration) (armed bool) {
	if sc.watchState.Load() != watchArmed {
		return false
	}
	// While the handler writes its answer, a slave that left makes the
	// write fail: no watcher needed, and large answers pay none.
	if sc.ioWait.Load()&ioMask == ioWrite {
		return true
	}
	if now-time.Duration(sc.watchSince.Load()) >= watchDelay && sc.watchState.CompareAndSwap(watchArmed, watchRunning) {
		go sc.watchPeer()
	}
	return true
}

// watchPeer runs on its own goroutine while a handler runs. It waits
// for the connection to become readable, the way net/http's background
// read does: an error (EOF, reset) means the slave left, so the call's
// context is cancelled, its slot freed and the connection closed; data
// stays buffered for the connection's goroutine.
func (sc *serverConn) watchPeer() {
	var err error
	for {
		err = sc.waitForPeer()
		if err == nil && !sc.cancelled.Load() {
			// In version 2 the slave may send a cancel frame for this call.
			var ok bool
			ok, err = connHooks.TakeCancel(sc.c, sc.callID)
			if err == nil && ok {
				sc.cancelled.Store(true)
				sc.endCall(ErrCancelled)
				continue // and watch for the slave leaving
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && sc.clearWatchDeadline() {
				continue // the call's deadline, during a frame
			}
		}
		break // data for the connection's goroutine, or an error
	}
	if err != nil && sc.watchState.CompareAndSwap(watchRunning, watchGone) {
		// The slave closed its side (or reset, or the master closed): no
		// one will ask anything more on this connection. The handler's
		// context ends and its slot is free; the connection is not closed
		// here, so a slave that only half-closed still gets its answer,
		// and the handler's goroutine closes it when the handler returns.
		cause := ErrSlaveGone
		if sc.m.ctx.Err() != nil {
			cause = ErrClosed
		}
		sc.peerGone.Store(true)
		sc.endCall(cause)
		sc.m.freeAbandoned(sc)
		if cause == ErrSlaveGone {
			sc.m.cfg.Logger.Debug("fastrpc: the slave left while its handler ran; its context is cancelled", "remote", sc.c.RemoteAddr(), "err", err)
		}
	}
	sc.watchDone <- struct{}{}
}

// waitForPeer waits for the slave to send or leave, past the call's
// deadline (the connection's read deadline, not stopWatch's): the slave
// may still wait for a late answer, or leave.
func (sc *serverConn) waitForPeer() error {
	err := connHooks.WaitForData(sc.c)
	for errors.Is(err, os.ErrDeadlineExceeded) && sc.clearWatchDeadline() {
		err = connHooks.WaitForData(sc.c)
	}
	return err
}

// stopWatch ends the peer watcher after the handler returned, before the
// connection's goroutine reads again.
func (sc *serverConn) stopWatch() {
	if sc.watchState.CompareAndSwap(watchArmed, watchOff) {
		return // never started
	}
	sc.claimMu.Lock() // one step with the watcher's clearWatchDeadline
	if sc.watchState.CompareAndSwap(watchRunning, watchStopping) {
		_ = sc.c.SetReadDeadline(pastTime)
	}
	sc.claimMu.Unlock()
	<-sc.watchDone
	sc.armed = true // the read deadline set above is cleared before the next read
	sc.watchState.Store(watchOff)
}

var epoch = time.Now()

// monoNow reads the monotonic clock only: cheaper than time.Now.
func monoNow() time.Duration { return time.Since(epoch) }

// clearWatchDeadline removes the read deadline that interrupted the
// watcher, unless stopWatch set it: then it reports false.
func (sc *serverConn) clearWatchDeadline() bool {
	sc.claimMu.Lock()
	defer sc.claimMu.Unlock()
	if sc.watchState.Load() != watchRunning {
		return false
	}
	_ = sc.c.SetReadDeadline(time.Time{})
	return true
}

// endCall ends the context of the call being served, if it has one.
func (sc *serverConn) endCall(cause error) {
	if cc := sc.cur.Load(); cc != nil {
		cc.end(cause)
	}
}

// lateAnswerGrace is how long after a call's deadline its answer may
// still be written.
const lateAnswerGrace = time.Second

// lingerTimeout bounds how long a closing connection waits for the peer to
// read what was last sent (see lingerClose).
const lingerTimeout = time.Second

// pastTime is a deadline in the past, to interrupt blocked I/O.
var pastTime = time.Unix(1, 0)

type serverConn struct {
	m     *Master
	c     *conn.Conn
	state atomic.Uint64
	// counted says the connection counts against MaxConnections, and
	// abandoned that it counts among Master.abandoned instead; see
	// Master.freeSlot and freeAbandoned.
	counted, abandoned atomic.Bool
	// ioWait says the goroutine is blocked on the peer: ioRead or ioWrite
	// in the low bits, and above them the sweep tick its wait counts from
	// (earlier than now by the time already waited without a quantum of
	// progress). ioStalled in the low bits (and the kind above them): the
	// sweeper found it waited too long and cut the connection's I/O short.
	// 0: not waiting.
	ioWait atomic.Uint64
	// Progress per direction, kept by the connection's goroutine: ticks
	// waited and bytes moved since the last ProgressQuantum.
	waited, moved [3]uint64
	stalled       bool   // the sweeper cut this connection; it closes
	stalledKind   uint64 // ioRead or ioWrite: which side stalled
	// The send queue at the sweeper's last look at the write wait
	// sampledWait, for interruptIfStalled; only the sweeper uses them.
	sampledWait   uint64
	sampledUnsent int
	// noWatch: the connection cannot take read deadlines, which stopping
	// the peer watcher needs, so it has none.
	noWatch bool
	// seesUnsent: the socket's send queue can be read (conn.Unsent).
	seesUnsent bool
	// Reused per call so streaming allocates nothing.
	ew errWriter
	pr progressReader
	// cur is the context of the call being served, once its handler asked
	// for one; the watcher and Close end it.
	cur atomic.Pointer[callContext]
	// The peer watcher (see watchPeer): its state, when the handler's
	// request was read (monoNow), and its end.
	watchState atomic.Int32
	watchSince atomic.Int64
	watchDone  chan struct{}
	peerGone   atomic.Bool
	// armed says a deadline may be set on c. Calls without a timeout, the
	// common case, then cost no deadline updates at all: idle connections
	// are timed by the master's sweeper, not by a read deadline re-armed
	// on every call. Only the connection's goroutine uses it.
	armed bool
	op    IOOperator // reused for every call on this connection
	// callID is the ID of the call in flight, and lastID that of the last
	// request read (version 2; 0 in version 1).
	callID, lastID uint64
	// cancelled says the slave sent a cancel frame for the call in flight.
	cancelled atomic.Bool
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
	if !sc.armed {
		// The slave's preface comes first: bounded even with
		// HeaderTimeout off.
		_ = c.SetDeadline(time.Now().Add(cmp.Or(m.cfg.IdleTimeout, DefaultHeaderTimeout)))
		sc.armed = true
	}
	if err := c.ServerHandshake(frame.MaxVersion); err != nil {
		var ve *frame.VersionError
		if errors.Is(err, frame.ErrBadMagic) || errors.As(err, &ve) {
			log.Warn("fastrpc: bad preface; closing", "remote", c.RemoteAddr(), "err", err)
			// A version 1 preface tells the peer what it reached: a TLS
			// client, say, sees a record that is not TLS and says so.
			_ = c.WritePreface(frame.HandshakeOK)
			lingerClose(c) // a close, not a reset, for a peer still sending
			return
		}
		// Over TLS this is where a bad certificate shows: worth a warning.
		level := slog.LevelWarn
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			level = slog.LevelDebug
		}
		log.Log(context.Background(), level, "fastrpc: connection handshake failed", "remote", c.RemoteAddr(), "err", err)
		return
	}
	sc.op.sc = sc
	sc.op.c = c
	sc.op.remote = c.RemoteAddr()
	sc.watchDone = make(chan struct{}, 1)
	// Stopping the peer watcher interrupts its read with a deadline.
	sc.noWatch = c.SetReadDeadline(time.Time{}) != nil
	_, sc.seesUnsent = connHooks.Unsent(c)

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
		err := connHooks.WaitForData(c)
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
		if connHooks.Buffered(c) < c.RequestHeaderSize() {
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
		if h.Kind == frame.KindCancel {
			if h.ID != 0 && h.ID == sc.lastID {
				continue // it crossed the answer: nothing left to cancel
			}
			log.Warn("fastrpc: cancel frame for a call not in flight; closing", "remote", c.RemoteAddr(), "call", h.ID, "last_call", sc.lastID)
			return
		}
		if c.Version() >= frame.Version2 && h.ID <= sc.lastID {
			log.Warn("fastrpc: request reuses a call ID; closing", "remote", c.RemoteAddr(), "call", h.ID, "last_call", sc.lastID)
			return
		}
		sc.lastID = h.ID
		if !sc.readMetadata(h.Metadata) || !sc.handle(h) {
			return
		}
	}
}

// readMetadata reads a request's metadata block of n bytes into the
// IOOperator: n is at most frame.MaxMetadataSize, checked with the header,
// and a block not already received must arrive within the header timeout.
func (sc *serverConn) readMetadata(n uint32) bool {
	op := &sc.op
	op.md, op.respMD = nil, nil
	if n == 0 {
		return true
	}
	c, m := sc.c, sc.m
	if connHooks.Buffered(c) < int(n) {
		if d := cmp.Or(m.cfg.HeaderTimeout, m.cfg.IdleTimeout); d > 0 {
			_ = c.SetReadDeadline(time.Now().Add(d))
			sc.armed = true
		}
	}
	block, err := c.ReadMetadata(n)
	if err == nil {
		op.md, err = metadata.Parse(block)
	}
	if err != nil {
		m.cfg.Logger.Warn("fastrpc: bad request metadata; closing", "remote", c.RemoteAddr(), "err", err)
		return false
	}
	return true
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
	sc.callID, sc.op.respMD = 0, nil // unasked, the notice answers no call
	if connHooks.Buffered(c) > 0 {
		_ = c.SetReadDeadline(time.Now().Add(max(sc.m.cfg.HeaderTimeout, lingerTimeout)))
		h, err := c.ReadRequestHeader()
		if err != nil {
			return
		}
		if h.Kind == frame.KindRequest {
			sc.callID = h.ID
		} // a cancel frame crossed its answer: the notice answers no call
	}
	_ = c.SetWriteDeadline(time.Now().Add(lingerTimeout))
	if sc.writeStatus(frame.StatusShuttingDown, 0, msg) == nil {
		lingerClose(c)
	}
}

// lingerClose half-closes c and drains what the peer still sends for a
// short while, so the peer reads our last response instead of a reset.
func lingerClose(c *conn.Conn) {
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(lingerTimeout))
	_ = connHooks.Discard(c, 1<<20)
}

// handle serves one request whose header was read. It reports whether the
// connection is still in a known state and can carry the next request.
func (sc *serverConn) handle(h frame.RequestHeader) bool {
	m, c := sc.m, sc.c
	sc.callID = h.ID
	sc.cancelled.Store(false)
	var deadline time.Time
	if h.Timeout > 0 {
		deadline = time.Now().Add(h.Timeout)
	}
	if !deadline.IsZero() || sc.armed {
		// Replaces the header deadline with the call's own (or none). An
		// answer that misses the deadline by less than lateAnswerGrace
		// still goes out: a slave that waits for it (see slave's drain)
		// keeps the connection instead of dialling a new one.
		_ = c.SetReadDeadline(deadline)
		if deadline.IsZero() {
			_ = c.SetWriteDeadline(deadline)
		} else {
			_ = c.SetWriteDeadline(deadline.Add(lateAnswerGrace))
		}
		sc.armed = !deadline.IsZero()
	}

	mt := m.reg.Load().byID[h.Method]
	limit, name := uint64(max(m.cfg.MaxRequestSize, 0)), ""
	if mt != nil {
		limit, name = mt.maxReq, mt.name
	}
	sc.startProgress(ioRead)
	sc.startProgress(ioWrite)
	if limit > 0 && h.Length > limit {
		m.cfg.Logger.Warn("fastrpc: request too large; closing", "remote", c.RemoteAddr(), "method", name, "length", h.Length, "limit", limit)
		if deadline.IsZero() {
			_ = c.SetWriteDeadline(time.Now().Add(lingerTimeout))
		}
		msg := fmt.Sprintf("request of %d bytes exceeds the master's limit of %d bytes; nothing was processed", h.Length, limit)
		if sc.writeStatus(frame.StatusRequestTooLarge, 0, msg) == nil {
			lingerClose(c)
		}
		return false
	}

	if mt == nil {
		if sc.discard(h.Length) != nil {
			if sc.stalled {
				sc.logStall("")
			}
			return false
		}
		return sc.writeStatus(frame.StatusUnknownMethod, 0, fmt.Sprintf("no method with ID %#016x is registered", h.Method)) == nil
	}

	op := &sc.op
	op.reset(mt.name, h.Length, deadline)
	if h.Length == 0 {
		sc.armWatch()
	}
	err, panicked := sc.run(mt.handler, op)
	if sc.watchState.Load() != watchOff {
		sc.stopWatch()
	}
	op.release()

	switch {
	case sc.stalled:
		sc.logStall(mt.name)
		return false
	case op.broken || sc.peerGone.Load():
		// A response was started and not finished, I/O failed, or the
		// slave left.
		return false
	case panicked:
		if !op.responded && sc.writeStatus(frame.StatusHandlerPanic, 0, panicMessage) != nil {
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
		if sc.writeStatus(status, errorCode(err), msg) != nil {
			return false
		}
	case !op.responded:
		if sc.writePayload(nil) != nil {
			return false
		}
	}
	// Whatever the handler left unread is discarded so the next request
	// starts on a frame boundary.
	if sc.discard(op.left) != nil {
		if sc.stalled {
			sc.logStall(mt.name)
		}
		return false
	}
	return true
}

// discard drops n payload bytes, counting progress for BodyTimeout.
func (sc *serverConn) discard(n uint64) error {
	c := sc.c
	for n > 0 {
		if b := connHooks.Buffered(c); b > 0 {
			k := min(uint64(b), n)
			_ = connHooks.Discard(c, k) // buffered: no I/O
			n -= k
			continue
		}
		sc.await(ioRead)
		err := connHooks.WaitForData(c)
		if e := sc.arrived(connHooks.Buffered(c)); e != nil {
			return e
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// panicMessage is all a slave learns of a panic.
const panicMessage = "handler panicked; see the master's log"

// StatusOf returns the status the master sends for a call whose handler
// returned err: the status already written if the handler responded,
// otherwise StatusOK for nil, and for errors StatusHandlerPanic (ErrPanicked),
// StatusPermissionDenied (ErrPermissionDenied), StatusDeadlineExceeded
// (context.DeadlineExceeded), StatusCancelled (context.Canceled,
// ErrCancelled) or StatusApplicationError. Middleware uses it
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
	case errors.Is(err, context.Canceled) || errors.Is(err, ErrCancelled):
		return frame.StatusCancelled
	}
	return frame.StatusApplicationError
}

// run calls the handler, turning a panic into panicked=true with the stack
// logged.
func (sc *serverConn) run(h Handler, op *IOOperator) (err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			panicked = true
			sc.m.cfg.Logger.Error("fastrpc: handler panicked", "method", op.name, "remote", op.remote, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	return h(op), false
}

// writePayload writes and flushes a StatusOK response. Where the socket's
// send queue cannot be read (see interruptIfStalled), it writes in pieces
// of ProgressQuantum, so that WriteTimeout sees a slow reader's progress
// as each returns; elsewhere in one write, one system call on loopback.
func (sc *serverConn) writePayload(p []byte) error {
	c := sc.c
	if err := sc.writeResponseHeader(frame.ResponseHeader{Status: frame.StatusOK, Length: uint64(len(p))}); err != nil {
		return err
	}
	piece := ProgressQuantum
	if sc.seesUnsent {
		piece = len(p)
	}
	for len(p) > 0 {
		k := min(len(p), piece)
		sc.await(ioWrite) // a write larger than the buffer's room blocks
		_, err := c.Write(p[:k])
		if e := sc.arrived(k); e != nil {
			return e
		}
		if err != nil {
			return err
		}
		p = p[k:]
	}
	return sc.flush()
}

// flush writes out the buffered response, counting the wait for
// WriteTimeout.
func (sc *serverConn) flush() error {
	sc.await(ioWrite)
	err := sc.c.Flush()
	if e := sc.arrived(0); e != nil {
		return e
	}
	return err
}

// writeStatus writes and flushes a response with a message, truncated to
// frame.MaxErrorMessage.
func (sc *serverConn) writeStatus(s frame.Status, code uint32, msg string) error {
	c := sc.c
	if len(msg) > frame.MaxErrorMessage {
		msg = msg[:frame.MaxErrorMessage]
	}
	if err := sc.writeResponseHeader(frame.ResponseHeader{Status: s, Code: code, Length: uint64(len(msg))}); err != nil {
		return err
	}
	sc.await(ioWrite) // a message longer than the buffer's room blocks
	_, err := c.WriteString(msg)
	if e := sc.arrived(len(msg)); e != nil {
		return e
	}
	if err != nil {
		return err
	}
	return sc.flush()
}

// writeResponseHeader buffers the header of the answer to the call in
// flight, with its ID and, in version 2, the response metadata the
// handler set (a version 1 slave cannot receive it).
func (sc *serverConn) writeResponseHeader(h frame.ResponseHeader) error {
	c := sc.c
	h.ID = sc.callID
	md := sc.op.respMD
	if c.Version() < frame.Version2 || len(md) == 0 {
		return c.WriteResponseHeader(h)
	}
	h.Metadata = uint32(md.Size()) // checked by SetResponseMetadata
	if err := c.WriteResponseHeader(h); err != nil {
		return err
	}
	return c.WriteMetadata(md)
}
