package slave

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
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// fullDuplexThreshold is the request size above which the request body is
// written by a second goroutine while the response is read: a handler may
// start answering before it has read everything, and with both sides
// writing big payloads and neither reading, socket buffers would fill and
// deadlock. Below it the request fits in the socket buffers.
const fullDuplexThreshold = 64 << 10

// Config tunes a Slave. Address is required; every other zero field takes
// the default named in its comment, and a negative limit turns it off.
type Config struct {
	// Network is "tcp" (default) or any network the Dialer accepts, such as
	// "unix".
	Network string
	// Address of the master, such as "127.0.0.1:10000".
	Address string
	// Dialer opens connections; nil means a net.Dialer with DialTimeout and
	// conn.DefaultKeepAlive.
	Dialer conn.Dialer
	// DialTimeout bounds opening a connection: the Dialer's connect, and
	// its TLS handshake if it does one. A dial does not depend on the call
	// that needed it: a call whose context ends first stops waiting, and
	// the dial goes on and serves a later call. 0 means
	// conn.DefaultConnectTimeout (10s).
	DialTimeout time.Duration
	// HandshakeTimeout bounds waiting for the master's FastRpc preface once
	// connected. A master sends it as soon as it accepts, so a peer silent
	// for this long is not a FastRpc master (an HTTP server, say) or is
	// stuck. 0 means conn.DefaultHandshakeTimeout (2s: room for a master
	// a second's round trip away, or slow to accept).
	HandshakeTimeout time.Duration
	// FailFast makes a call that needs a new connection fail at once with
	// ErrDialBackoff while the slave backs off after failed dials. By
	// default it waits for the next dial, within the backoff window and its
	// context, and gets that dial's connection or error.
	FailFast bool
	// PoolSize is the most connections open to the master at once; callers
	// beyond it wait. 0 means poolimpl.DefaultSize.
	PoolSize int
	// Pool builds the connection pool, given the slave's dial and
	// PoolSize; nil means the builtin pool with default options,
	// poolimpl.Mutex(poolimpl.Options{}). Swapping it is one line:
	//
	//	Pool: puddle.Factory(poolimpl.Options{}), // package poolimpl/puddle
	//
	// A JSON config names a pool module instead (see JSONConfig). The
	// pool must hand back the connections the slave's dial returned.
	Pool poolimpl.Factory
	// MaxRequestSize refuses bigger requests held in memory (Call and
	// CallAppend) before sending anything. 0 means frame.DefaultMaxPayload,
	// the master's default too. CallStream is not bounded by it; see
	// MaxStreamRequestSize.
	MaxRequestSize int64
	// MaxStreamRequestSize refuses bigger CallStream requests before
	// sending or reading anything. 0 (or a negative value) means no limit:
	// a stream costs the slave bounded memory whatever its size, and the
	// master, which enforces its own limit per method, refuses what it
	// will not take as soon as it reads the request header.
	MaxStreamRequestSize int64
	// MaxResponseSize bounds responses read into memory (Call and
	// CallAppend); CallStream is not bounded by it.
	// 0 means frame.DefaultMaxPayload.
	MaxResponseSize int64
	// Conn sets the per-connection buffer sizes.
	Conn conn.Config
	// Middleware wraps every call, in order: the first is outermost. A
	// slave without middleware pays nothing for it.
	Middleware []Middleware
	// MaxProtocolVersion is the highest protocol version offered to the
	// master; each connection speaks the lower of it and the master's
	// highest. 0 means frame.MaxVersion (2); 1 pins version 1, without
	// metadata or cancel frames, as a rollout's escape hatch.
	MaxProtocolVersion uint16
}

// Slave calls methods on one master over a pool of persistent
// connections. Its methods are safe for concurrent use.
type Slave struct {
	cfg    Config
	pool   poolimpl.Pool
	gate   dialGate
	closed atomic.Bool
	invoke Invoker        // the middleware chain; nil without middleware
	loader *module.Loader // modules loaded by FromJSON; nil otherwise
	// Connections whose caller's deadline passed after the request went
	// out, waiting for the late answer (see drain); Close ends them.
	drainMu  sync.Mutex
	draining map[*conn.Conn]struct{}
	drains   sync.WaitGroup
}

// New returns a slave for cfg.Address. It does not connect: connections are
// opened on demand, or up front by Warm.
func New(cfg Config) (*Slave, error) {
	if cfg.Address == "" {
		return nil, errors.New("fastrpc: slave Config.Address is required")
	}
	if err := checkAddress(cfg); err != nil {
		return nil, err
	}
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = conn.DefaultConnectTimeout
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = conn.DefaultHandshakeTimeout
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: conn.DefaultKeepAlive}
	}
	if cfg.PoolSize < 0 {
		return nil, fmt.Errorf("fastrpc: slave Config.PoolSize %d is negative", cfg.PoolSize)
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = poolimpl.DefaultSize
	}
	limit := func(v, d int64) int64 {
		switch {
		case v == 0:
			return d
		case v < 0:
			return 0
		}
		return v
	}
	cfg.MaxRequestSize = limit(cfg.MaxRequestSize, frame.DefaultMaxPayload)
	cfg.MaxResponseSize = limit(cfg.MaxResponseSize, frame.DefaultMaxPayload)
	if cfg.Pool == nil {
		cfg.Pool = poolimpl.Mutex(poolimpl.Options{})
	}
	s := &Slave{cfg: cfg}
	s.gate.init(cfg.Address, cfg.FailFast, cfg.PoolSize, s.connect)
	pool, err := cfg.Pool(s.dial, cfg.PoolSize)
	if err != nil {
		s.gate.close()
		return nil, errtext.Errorf("building the connection pool: %w", err)
	}
	s.pool = pool
	s.gate.watchQueue(func() int { return pool.Stats().Waiting })
	s.buildChain()
	return s, nil
}

// Dial returns a slave whose pool is already full (see Warm).
func Dial(ctx context.Context, cfg Config) (*Slave, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Warm(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Warm opens connections until the pool holds PoolSize of them, so the
// first calls pay no connection set-up. It fails if any dial fails.
func (s *Slave) Warm(ctx context.Context) error {
	held := make([]poolimpl.Conn, 0, s.cfg.PoolSize)
	defer func() {
		for _, c := range held {
			s.pool.Release(c)
		}
	}()
	for range s.cfg.PoolSize {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		held = append(held, c)
	}
	return nil
}

// Close closes every connection; calls in flight finish first, and later
// calls return ErrClosed.
func (s *Slave) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.pool.Close()
	s.gate.close() // dials in flight, and connections nobody took yet
	s.drainMu.Lock()
	for c := range s.draining {
		_ = c.SetDeadline(pastTime)
	}
	s.drainMu.Unlock()
	s.drains.Wait()
	return errors.Join(err, s.loader.Cleanup())
}

// PoolStats reports the connection pool's state.
func (s *Slave) PoolStats() poolimpl.Stats { return s.pool.Stats() }

// Call calls method with req as the request and returns the response in a
// new slice. A deadline on ctx bounds the whole call, travels to the
// master as the handler's deadline, and ends the call with an error
// matching context.DeadlineExceeded when it passes. A call whose deadline
// passes while it waits for the answer returns at once, and its
// connection is kept for the late answer, which is read and dropped in the
// background (within a second, and up to 64 KiB; otherwise the connection
// is closed): so timed-out calls do not cost new connections. A cancelled
// call closes its connection, which tells the master to cancel the
// handler.
//
// A call the master answers "not processed" (ErrShuttingDown: it is
// stopping, or closed the idle connection the request crossed) is sent
// again on another connection, up to PoolSize times (at most 16); any
// other failure is returned as it is, never re-sent.
func (s *Slave) Call(ctx context.Context, method string, req []byte) ([]byte, error) {
	return s.CallAppend(ctx, method, req, nil)
}

// CallAppend is Call appending the response to dst, so a caller that
// reuses its buffer (dst[:0]) makes calls without allocating.
func (s *Slave) CallAppend(ctx context.Context, method string, req []byte, dst []byte) ([]byte, error) {
	if s.invoke != nil {
		cl := &call{method: method, req: req, reqLen: uint64(len(req)), dst: dst, dstStart: len(dst)}
		err := s.invokeWithMiddleware(ctx, cl)
		return cl.dst, err
	}
	cl := call{method: method, req: req, reqLen: uint64(len(req)), dst: dst, dstStart: len(dst)}
	err := s.roundTrip(ctx, &cl)
	return cl.dst, err
}

// CallStream calls method with a request of exactly size bytes read from
// body, and copies the response into w as it arrives. Memory stays bounded
// whatever the sizes: MaxRequestSize and MaxResponseSize do not apply,
// only MaxStreamRequestSize if set (and the master's own limit). It
// returns the number of response bytes written to w.
//
// The body is read by a goroutine of its own while the response is read.
// CallStream returns at its context's deadline or cancellation whatever
// the body does, dropping the connection: a Read of the body that is
// blocked then may still be under way after CallStream returns, and the
// goroutine exits once it returns; the body is not read again after that.
// Without a deadline or cancellation, a call whose body blocks waits for
// it.
func (s *Slave) CallStream(ctx context.Context, method string, body io.Reader, size int64, w io.Writer) (int64, error) {
	if size < 0 {
		return 0, fmt.Errorf("fastrpc: call %q: negative request size %d", method, size)
	}
	if body == nil {
		body = eofReader{}
	}
	if s.invoke != nil {
		cl := &call{method: method, body: body, reqLen: uint64(size), w: w}
		err := s.invokeWithMiddleware(ctx, cl)
		return cl.got, err
	}
	cl := call{method: method, body: body, reqLen: uint64(size), w: w}
	err := s.roundTrip(ctx, &cl)
	return cl.got, err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Capabilities asks the master which methods it serves and, when it
// speaks protocol version 2, which versions and features (Features is nil
// for a version 1 master).
func (s *Slave) Capabilities(ctx context.Context) (frame.Capabilities, error) {
	b, err := s.Call(ctx, frame.CapabilitiesName, nil)
	if err != nil {
		return frame.Capabilities{}, err
	}
	// The two bodies cannot be mistaken for each other: version 2's goes
	// on after the list, where version 1's ends.
	caps, err := frame.ParseCapabilitiesV2(b)
	if err != nil {
		methods, err1 := frame.ParseCapabilities(b)
		if err1 != nil {
			return frame.Capabilities{}, errtext.Errorf("call %q: %w: %w", frame.CapabilitiesName, ErrProtocol, err)
		}
		caps = frame.Capabilities{Methods: methods}
	}
	return caps, nil
}

// call is one round trip: the request is req, or reqLen bytes from body;
// the response is appended to dst, or copied to w.
type call struct {
	method   string
	req      []byte
	body     io.Reader
	reqLen   uint64
	dst      []byte
	w        io.Writer
	got      int64    // bytes copied to w
	dstStart int      // len(dst) before the response
	broken   bool     // the request was not sent whole: c must not be reused
	progress progress // how far the request got, for errors
	answered bool     // the response header was read: the rest is the response
	md       metadata.MD
	mdSize   uint32       // md's encoded size, checked against the limits
	capture  *metadata.MD // where the response's metadata goes; nil: dropped
}

// progress is how far a request got towards the master: what an error
// says about whether the master may have run it.
type progress int32

const (
	notSent    progress = iota // nothing was written
	sending                    // writing started and did not finish
	sent                       // written whole
	sendFailed                 // the writer failed (the body, or the connection)
)

var pastTime = time.Unix(1, 0)

// canceller interrupts the blocked I/O of a call whose context ends, by
// moving its connection's deadline to the past. Cancellers are pooled and
// their func is bound once, so arming one costs only what
// context.AfterFunc allocates.
type canceller struct {
	c         *conn.Conn
	fired     sync.WaitGroup // done once interrupt ran, or will never run
	interrupt func()
}

var cancellers = sync.Pool{New: func() any {
	k := new(canceller)
	k.interrupt = func() { _ = k.c.SetDeadline(pastTime); k.fired.Done() }
	return k
}}

func (s *Slave) roundTrip(ctx context.Context, cl *call) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return ended(cl.method, notSent, err, nil)
	}
	limit, name := s.cfg.MaxRequestSize, "MaxRequestSize"
	if cl.body != nil {
		limit, name = s.cfg.MaxStreamRequestSize, "MaxStreamRequestSize"
	}
	if limit > 0 && cl.reqLen > uint64(limit) {
		return errtext.Errorf("call %q: %w: %d bytes, the slave's %s is %d; nothing was sent",
			cl.method, ErrRequestTooLarge, cl.reqLen, name, limit)
	}
	if cl.capture = metadata.CaptureTarget(ctx); cl.capture != nil {
		*cl.capture = nil // what a response without metadata leaves
	}
	// Middleware may invoke a call more than once (a retry policy): each
	// invocation sends its own context's metadata.
	cl.md, cl.mdSize = metadata.FromOutgoingContext(ctx), 0
	cl.dst = cl.dst[:cl.dstStart] // and gets its own response
	if len(cl.md) > 0 {
		if err := cl.md.Check(); err != nil {
			return errtext.Errorf("call %q: %w; nothing was sent", cl.method, err)
		}
		cl.mdSize = uint32(cl.md.Size())
	}
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline && time.Until(deadline) <= 0 {
		return ended(cl.method, notSent, context.DeadlineExceeded, nil)
	}
	c, timeout, err := s.connFor(ctx, deadline, hasDeadline)
	if err != nil {
		return s.notConnected(ctx, cl.method, err)
	}
	err = s.attempt(ctx, cl, c, deadline, timeout)
	// A master that closes a connection (shutting down, or idle too long)
	// first sends a notice on it. A request that crossed that notice was
	// not processed, and one held in memory can be sent again on another
	// connection, as gRPC retries a refused stream. Each pooled connection
	// may carry such a notice, hence the bound; a stream body cannot be
	// replayed.
	for retries := min(s.cfg.PoolSize, maxNotProcessedRetries); retries > 0 && cl.body == nil && isNotProcessed(err); retries-- {
		c, timeout, cerr := s.connFor(ctx, deadline, hasDeadline)
		if cerr != nil {
			// Not sent again: both facts matter to the caller (errors.Is
			// finds ErrShuttingDown, and the context's or the dial's error).
			return errtext.Errorf("%w; not sent again: %w", err, cerr)
		}
		err = s.attempt(ctx, cl, c, deadline, timeout)
	}
	return err
}

// notConnected is the error of a call that got no connection, so sent
// nothing.
func (s *Slave) notConnected(ctx context.Context, method string, err error) error {
	if cerr := ctxEnd(ctx); cerr != nil {
		return ended(method, notSent, cerr, err)
	}
	return errtext.Errorf("call %q: %w", method, err)
}

// ctxEnd returns ctx's error, or context.DeadlineExceeded once its
// deadline has passed: socket deadlines taken from ctx can fire a moment
// before ctx's own timer.
func ctxEnd(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// ended is the error of a call whose context ended (cerr) at progress p.
// It matches cerr, and cause too (the dial's error, say) when cause says
// more than cerr; it does not match what the context's end did to the
// connection. The text says whether the master may have run the call.
func ended(method string, p progress, cerr, cause error) error {
	var when string
	switch p {
	case notSent:
		when = "before the request was sent"
	case sent:
		when = "after the request was sent; the master may have run it"
	default:
		when = "while the request was being sent; the master may have run it"
	}
	if cause == nil || cause == cerr || errtext.Text(cause) == cerr.Error() {
		return errtext.Errorf("call %q: %w %s", method, cerr, when)
	}
	return errtext.Errorf("call %q: %w %s: %w", method, cerr, when, cause)
}

// maxNotProcessedRetries bounds how often a call answered "not processed"
// is sent again.
const maxNotProcessedRetries = 16

func isNotProcessed(err error) bool {
	re := asRemote(err)
	return re != nil && re.Status == frame.StatusShuttingDown
}

// connFor takes a connection for a call that has not been sent yet, and
// the timeout to send with it: the time left, measured after waiting for
// the pool or dialling, so that wait does not stretch the master's
// deadline.
func (s *Slave) connFor(ctx context.Context, deadline time.Time, hasDeadline bool) (*conn.Conn, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	c, err := s.acquire(ctx)
	if err != nil {
		return nil, 0, err
	}
	var timeout time.Duration
	if hasDeadline {
		if timeout = time.Until(deadline); timeout <= 0 {
			s.pool.Release(c)
			return nil, 0, context.DeadlineExceeded
		}
	}
	return c, timeout, nil
}

// attempt makes one round trip on c, a connection from the pool, and gives
// c back to the pool or drops it.
func (s *Slave) attempt(ctx context.Context, cl *call, c *conn.Conn, deadline time.Time, timeout time.Duration) error {
	cl.broken, cl.progress, cl.answered = false, notSent, false // a previous attempt's, if any
	if cl.mdSize > 0 && c.Version() < frame.Version2 {
		s.pool.Release(c)
		return errtext.Errorf("call %q: %w; nothing was sent", cl.method, ErrMetadataUnsupported)
	}
	_ = connHooks.SetCallDeadline(c, deadline) // zero clears a previous call's
	var stop func() bool
	var k *canceller
	if ctx.Done() != nil {
		// Cancellation interrupts blocked I/O; the connection is then dropped
		// or drained.
		k = cancellers.Get().(*canceller)
		k.c = c
		k.fired.Add(1)
		stop = context.AfterFunc(ctx, k.interrupt)
	}

	err := s.exchange(ctx, c, frame.MethodID(cl.method), timeout, cl)
	// The cancellation must be stopped before c goes back to the pool. If it
	// already fired, c's deadline is or will be in the past: wait for that
	// (a moment: it was started) and clear it, so that a call that
	// completed, or is drained, keeps its connection.
	if stop != nil {
		if stop() {
			k.fired.Done() // it will not run
		} else {
			k.fired.Wait()
			_ = connHooks.SetCallDeadline(c, time.Time{}) // the cache, which may already say zero
			_ = c.SetDeadline(time.Time{})
		}
		k.c = nil
		cancellers.Put(k)
	}
	reusable := !cl.broken
	if err == nil {
		if reusable {
			s.pool.Release(c)
		} else {
			s.pool.Destroy(c)
		}
		return nil
	}
	if re := asRemote(err); re != nil {
		// The exchange completed; the connection is in a known state unless
		// the master said it is closing it.
		if !reusable || re.Status == frame.StatusShuttingDown || re.Status == frame.StatusRequestTooLarge {
			s.pool.Destroy(c)
		} else {
			s.pool.Release(c)
		}
		return err
	}
	if cerr := ctxEnd(ctx); cerr != nil {
		// What the context's end did to the connection (a timeout, a
		// closed socket) is not news to the caller.
		// Drained: a call sent whole, whose answer has not started, and
		// whose connection is in step; in version 2 a cancel frame tells
		// the master, in version 1 only a deadline is drained (the
		// master's handler has it too) and closing is the cancel.
		inStep := cl.progress == sent && !cl.answered && !cl.broken && cl.body == nil && cl.reqLen <= fullDuplexThreshold
		if v2 := c.Version() >= frame.Version2; inStep && (v2 || cerr == context.DeadlineExceeded) {
			s.drain(c, v2)
		} else {
			s.pool.Destroy(c)
		}
		return ended(cl.method, cl.progress, cerr, nil)
	}
	s.pool.Destroy(c)
	return errtext.Errorf("call %q: %w", cl.method, err)
}

// Bounds of drain: how long a late answer is waited for, and how large it
// may be.
const (
	drainTimeout = time.Second
	drainLimit   = 64 << 10
)

// drain keeps c, whose caller's context ended while it waited for the
// answer, for the answer that is still coming: with cancel (protocol
// version 2) it first sends a cancel frame, so the master cancels the
// handler's context; in version 1 the master has the call's deadline, so
// a handler that honours it answers a moment later, and the master writes
// answers up to a second late. The answer is read and dropped in the
// background and c goes back to the pool; without that, every timed-out
// or cancelled call would cost a new connection (a dial, a handshake, and
// a master slot). No answer within drainTimeout, one larger than
// drainLimit, or any error, and c is closed, which also tells the master
// that nobody waits any more. The caller has already returned. In version
// 1 a cancelled call (not a deadline) is not drained: closing is what
// tells the master to cancel its handler.
func (s *Slave) drain(c *conn.Conn, cancel bool) {
	s.drainMu.Lock()
	if s.closed.Load() {
		s.drainMu.Unlock()
		s.pool.Destroy(c)
		return
	}
	if s.draining == nil {
		s.draining = make(map[*conn.Conn]struct{})
	}
	s.draining[c] = struct{}{}
	s.drains.Add(1)
	s.drainMu.Unlock()
	go func() {
		defer s.drains.Done()
		ok := s.drainAnswer(c, cancel)
		s.drainMu.Lock()
		delete(s.draining, c)
		s.drainMu.Unlock()
		if ok && !s.closed.Load() {
			s.pool.Release(c)
		} else {
			s.pool.Destroy(c)
		}
	}()
}

// drainAnswer reads and drops the next answer on c, and reports whether c
// is in step again.
func (s *Slave) drainAnswer(c *conn.Conn, cancel bool) bool {
	s.drainMu.Lock() // one step with Close's interruption
	if s.closed.Load() {
		s.drainMu.Unlock()
		return false
	}
	err := connHooks.SetCallDeadline(c, time.Now().Add(drainTimeout))
	s.drainMu.Unlock()
	if err != nil || cancel && c.WriteCancel() != nil {
		return false
	}
	h, err := c.ReadResponseHeader()
	if err != nil || h.Length > drainLimit || h.Status == frame.StatusShuttingDown || h.Status == frame.StatusRequestTooLarge {
		return false
	}
	if _, err := c.ReadMetadata(h.Metadata); err != nil {
		return false
	}
	if connHooks.Discard(c, h.Length) != nil {
		return false
	}
	return connHooks.SetCallDeadline(c, time.Time{}) == nil
}

// acquire takes a connection from the pool. The pool drops idle
// connections that went stale (master restarted, idle timeout, shutdown
// notice) before handing them out; see poolimpl.Pool. What it hands out
// is what s.dial returned: a *conn.Conn.
func (s *Slave) acquire(ctx context.Context) (*conn.Conn, error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		if errors.Is(err, poolimpl.ErrClosed) {
			err = ErrClosed
		}
		return nil, err
	}
	c, ok := pc.(*conn.Conn)
	if !ok || c == nil {
		if pc != nil {
			s.pool.Destroy(pc)
		}
		return nil, fmt.Errorf("fastrpc: the connection pool handed out a %T, not a connection the slave dialled; nothing was sent: the pool is broken", pc)
	}
	return c, nil
}

// exchange sends the request and reads the response on c. A *RemoteError
// means the exchange completed and c is reusable unless cl.broken; any
// other error leaves c in an unknown state. It records in cl.progress how
// far the request got.
func (s *Slave) exchange(ctx context.Context, c *conn.Conn, id uint64, timeout time.Duration, cl *call) error {
	h := frame.RequestHeader{Method: id, Length: cl.reqLen, Timeout: timeout, Metadata: cl.mdSize}
	if err := c.WriteRequestHeader(h); err != nil {
		return s.afterWriteFailure(c, cl, err)
	}
	if err := c.WriteMetadata(cl.md); err != nil {
		return s.afterWriteFailure(c, cl, err)
	}
	if cl.body == nil && cl.reqLen <= fullDuplexThreshold {
		cl.progress = sending
		if _, err := c.Write(cl.req); err != nil {
			return s.afterWriteFailure(c, cl, err)
		}
		if err := c.Flush(); err != nil {
			return s.afterWriteFailure(c, cl, err)
		}
		cl.progress = sent
		return s.readResponse(c, cl)
	}

	// The request is written by a goroutine of its own while the response
	// is read. The call does not wait for it once the call has failed or
	// its context has ended: it may be blocked in a Read of the body, which
	// only the body can end. Closing c then makes its socket writes fail,
	// and w.stop keeps it from reading the body again.
	w := &writer{done: make(chan struct{})}
	w.state.Store(int32(sending))
	body := cl.body
	if body != nil {
		w.body = stoppable{r: body, stop: &w.stop}
		body = &w.body
	}
	go w.run(c, cl.req, body, cl.reqLen)
	rerr := s.readResponse(c, cl)
	if rerr != nil && asRemote(rerr) == nil {
		// No answer: c is dropped, and the writer with it.
		w.abandon(c)
		cl.broken = true
		if progress(w.state.Load()) == sendFailed && w.byBody {
			// The body failed first (the master then dropped the request
			// it could not complete): that is the story. A failed socket
			// write says less than what the master did.
			cl.progress = sending
			return errtext.Errorf("%w: sending the request: %w", ErrConnection, w.err)
		}
		cl.progress = progress(w.state.Load())
		return rerr
	}
	// Answered. c can carry another call only once the request is whole.
	select {
	case <-w.done:
	case <-ctx.Done():
		select {
		case <-w.done:
			// Finished all the same.
			return s.afterWriter(w, cl, rerr)
		default:
		}
		w.abandon(c)
		cl.broken, cl.progress = true, sending
		if rerr != nil {
			return rerr // the master's answer is the story
		}
		return errCallEnded
	}
	return s.afterWriter(w, cl, rerr)
}

// afterWriter is the outcome of an answered call once its writer has
// finished.
func (s *Slave) afterWriter(w *writer, cl *call, rerr error) error {
	if w.err != nil {
		cl.broken, cl.progress = true, sending
		if rerr == nil {
			// A response without the whole request: the failed send is
			// the story.
			return errtext.Errorf("%w: sending the request: %w", ErrConnection, w.err)
		}
		return rerr
	}
	cl.progress = sent
	return rerr
}

// errCallEnded stands for a call cut short by its context; attempt
// reports the context's error instead.
var errCallEnded = errors.New("fastrpc: the call's context ended")

// writer writes a request's payload beside the reading of the response.
type writer struct {
	state  atomic.Int32 // a progress: sending, then sent or sendFailed
	err    error        // the failure, set before state becomes sendFailed
	byBody bool         // the body caused it, set with err
	stop   atomic.Bool
	body   stoppable
	done   chan struct{} // closed once run returns
}

// run writes the payload, req or n bytes from body.
func (w *writer) run(c *conn.Conn, req []byte, body io.Reader, n uint64) {
	defer close(w.done)
	if err := writeBody(c, req, body, n); err != nil {
		// CopyFrom's io.ErrUnexpectedEOF is a body that ended early.
		w.err, w.byBody = err, w.body.err != nil || err == io.ErrUnexpectedEOF
		w.state.Store(int32(sendFailed))
		// The request will never be whole (body failed or ended early):
		// half-close so the master sees it end and drops the connection,
		// instead of both sides waiting for each other. An answer the
		// master already sent can still be read.
		_ = c.CloseWrite()
		return
	}
	w.state.Store(int32(sent))
}

// abandon stops waiting for the writer: the body is read no more once a
// Read under way returns, and closing c makes the writer's socket writes
// fail at once.
func (w *writer) abandon(c *conn.Conn) {
	w.stop.Store(true)
	_ = c.Close()
}

// stoppable reads r until stop is set, and keeps r's failure.
type stoppable struct {
	r    io.Reader
	stop *atomic.Bool
	err  error // r's error other than io.EOF
}

func (s *stoppable) Read(p []byte) (int, error) {
	if s.stop.Load() {
		return 0, errCallEnded
	}
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// writeBody sends the request payload: req, or n bytes from body.
func writeBody(c *conn.Conn, req []byte, body io.Reader, n uint64) error {
	if body != nil {
		if _, err := c.CopyFrom(body, n, 0); err != nil {
			return err
		}
	} else if _, err := c.Write(req); err != nil {
		return err
	}
	return c.Flush()
}

// asRemote returns the *RemoteError in err's chain, or nil. It is kept out
// of the success path: the target of errors.As escapes to the heap.
func asRemote(err error) *RemoteError {
	if err == nil {
		return nil
	}
	var re *RemoteError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// afterWriteFailure handles a request that could not be sent whole: the
// master may have answered and closed first (request too large, shutting
// down), so its answer is read if it is there.
func (s *Slave) afterWriteFailure(c *conn.Conn, cl *call, werr error) error {
	cl.broken = true
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if h, err := c.ReadResponseHeader(); err == nil && h.Status != frame.StatusOK {
		if _, err := c.ReadMetadata(h.Metadata); err == nil {
			if err := s.readRemoteError(c, cl, h); asRemote(err) != nil {
				return err
			}
		}
	}
	return errtext.Errorf("%w: sending the request: %w", ErrConnection, werr)
}

func (s *Slave) readResponse(c *conn.Conn, cl *call) error {
	h, err := c.ReadResponseHeader()
	if err != nil {
		if errors.Is(err, frame.ErrReserved) || errors.Is(err, frame.ErrMetadata) || errors.Is(err, conn.ErrCallID) {
			cl.answered, cl.broken = true, true // not in step: never drained or reused
			return errtext.Errorf("%w: %w", ErrProtocol, err)
		}
		return errtext.Errorf("%w: reading the response: %w", ErrConnection, err)
	}
	cl.answered = true
	if h.Metadata > 0 {
		if err := readResponseMetadata(c, h.Metadata, cl.capture); err != nil {
			cl.broken = true
			return err
		}
	}
	if h.Status != frame.StatusOK {
		return s.readRemoteError(c, cl, h)
	}
	if cl.w != nil {
		n, err := c.CopyTo(cl.w, h.Length)
		cl.got = n
		if err != nil {
			return cutShort("streaming the response", uint64(n), h.Length, err)
		}
		return nil
	}
	if s.cfg.MaxResponseSize > 0 && h.Length > uint64(s.cfg.MaxResponseSize) {
		return errtext.Errorf("%w: %d bytes, MaxResponseSize is %d", ErrResponseTooLarge, h.Length, s.cfg.MaxResponseSize)
	}
	if h.Length > uint64(maxInt) {
		return errtext.Errorf("%w: %d bytes do not fit in memory", ErrResponseTooLarge, h.Length)
	}
	n := int(h.Length)
	start := len(cl.dst)
	cl.dst = slices.Grow(cl.dst, n)[:start+n]
	if k, err := io.ReadFull(c, cl.dst[start:]); err != nil {
		cl.dst = cl.dst[:start]
		return cutShort("reading the response", uint64(k), h.Length, err)
	}
	return nil
}

// readResponseMetadata reads the metadata block of a response, and keeps
// it where the caller asked (metadata.CaptureResponse).
func readResponseMetadata(c *conn.Conn, n uint32, dst *metadata.MD) error {
	block, err := c.ReadMetadata(n)
	if err != nil {
		if errors.Is(err, frame.ErrMetadata) {
			return errtext.Errorf("%w: %w", ErrProtocol, err)
		}
		return errtext.Errorf("%w: reading the response metadata: %w", ErrConnection, err)
	}
	if dst == nil {
		_, err = frame.ParseMetadata(block, nil) // checked all the same
	} else {
		*dst, err = metadata.Parse(block)
	}
	if err != nil {
		return errtext.Errorf("%w: %w", ErrProtocol, err)
	}
	return nil
}

// cutShort is the error of a response payload that stopped after got of
// its want bytes: the master ended it (EOF), or doing failed with err.
func cutShort(doing string, got, want uint64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errtext.Errorf("%w: the master ended the response after %d of %d bytes", ErrConnection, got, want)
	}
	return errtext.Errorf("%w: %s after %d of %d bytes: %w", ErrConnection, doing, got, want, err)
}

const maxInt = int(^uint(0) >> 1)

func (s *Slave) readRemoteError(c *conn.Conn, cl *call, h frame.ResponseHeader) error {
	if h.Length > frame.MaxErrorMessage {
		return errtext.Errorf("%w: error message of %d bytes exceeds %d", ErrProtocol, h.Length, frame.MaxErrorMessage)
	}
	msg := make([]byte, h.Length)
	if err := c.ReadFull(msg); err != nil {
		return errtext.Errorf("%w: reading the error message: %w", ErrConnection, err)
	}
	return &RemoteError{Method: cl.method, Status: h.Status, Code: h.Code, Message: string(msg)}
}
