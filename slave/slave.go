package slave

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// Defaults for the zero Config.
const (
	DefaultPoolSize        = 4
	DefaultDialTimeout     = 10 * time.Second
	DefaultKeepAlive       = 30 * time.Second
	DefaultMaxRequestSize  = 64 << 20
	DefaultMaxResponseSize = 64 << 20
)

// fullDuplexThreshold is the request size above which the request body is
// written by a second goroutine while the response is read: a handler may
// start answering before it has read everything, and with both sides
// writing big payloads and neither reading, socket buffers would fill and
// deadlock. Below it the request fits in the socket buffers.
const fullDuplexThreshold = 64 << 10

// PoolFactory builds the connection pool a slave uses. dial opens one ready
// connection; size is Config.PoolSize. poolimpl.MutexFactory and
// poolimpl.PuddleFactory make one, and PoolByName and PoolFromConfig pick
// one by name or from JSON.
type PoolFactory func(dial conn.DialFunc, size int) (conn.Pool, error)

// Config tunes a Slave. Address is required; every other zero field takes
// the default named in its comment, and a negative limit turns it off.
type Config struct {
	// Network is "tcp" (default) or any network the Dialer accepts, such as
	// "unix".
	Network string
	// Address of the master, such as "127.0.0.1:10000".
	Address string
	// Dialer opens connections; nil means a net.Dialer with DialTimeout and
	// DefaultKeepAlive.
	Dialer conn.Dialer
	// DialTimeout bounds a dial and handshake when the call's context has
	// no earlier deadline. 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// PoolSize is the most connections open to the master at once; callers
	// beyond it wait. 0 means DefaultPoolSize.
	PoolSize int
	// Pool builds the connection pool; nil means the builtin
	// poolimpl.Mutex with default options. Swapping it is one line:
	//
	//	Pool: poolimpl.PuddleFactory(poolimpl.Options{}),
	//
	// or see PoolByName and PoolFromConfig to pick one from a config.
	Pool PoolFactory
	// MaxRequestSize refuses bigger requests before sending anything.
	// 0 means DefaultMaxRequestSize, matching the master's default.
	MaxRequestSize int64
	// MaxResponseSize bounds responses read into memory (Call, CallAppend,
	// CallForBuffer); CallStream is not bounded by it.
	// 0 means DefaultMaxResponseSize.
	MaxResponseSize int64
	// Conn sets the per-connection buffer sizes.
	Conn conn.Config
	// Middleware wraps every call, in order: the first is outermost. A
	// slave without middleware pays nothing for it.
	Middleware []CallMiddleware
}

// Slave calls methods on one master over a pool of persistent
// connections. Its methods are safe for concurrent use.
type Slave struct {
	cfg    Config
	pool   conn.Pool
	gate   dialGate
	closed atomic.Bool
	invoke Invoker       // the middleware chain; nil without middleware
	loaded module.Loaded // modules loaded by FromJSON
}

// New returns a slave for cfg.Address. It does not connect: connections are
// opened on demand, or up front by Warm.
func New(cfg Config) (*Slave, error) {
	if cfg.Address == "" {
		return nil, errors.New("fastrpc: slave Config.Address is required")
	}
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: DefaultKeepAlive}
	}
	if cfg.PoolSize < 0 {
		return nil, fmt.Errorf("fastrpc: slave Config.PoolSize %d is negative", cfg.PoolSize)
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = DefaultPoolSize
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
	cfg.MaxRequestSize = limit(cfg.MaxRequestSize, DefaultMaxRequestSize)
	cfg.MaxResponseSize = limit(cfg.MaxResponseSize, DefaultMaxResponseSize)
	if cfg.Pool == nil {
		cfg.Pool = poolimpl.MutexFactory(poolimpl.Options{})
	}
	s := &Slave{cfg: cfg}
	pool, err := cfg.Pool(s.dial, cfg.PoolSize)
	if err != nil {
		return nil, fmt.Errorf("fastrpc: building the connection pool: %w", err)
	}
	s.pool = pool
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

// dial is the pool's DialFunc. Every dial passes the slave's dial gate:
// after a failure, dials within a growing backoff window fail at once with
// ErrDialBackoff, and one dial at a time probes whether the master is
// back (see dialGate).
func (s *Slave) dial(ctx context.Context) (*conn.Conn, error) {
	probe, err := s.gate.enter(s.cfg.Address)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	c, err := conn.Dial(dctx, s.cfg.Dialer, s.cfg.Network, s.cfg.Address, s.cfg.Conn)
	cancel()
	// A dial cut short by the caller's own context says nothing about the
	// master.
	s.gate.done(probe, err, err != nil && ctx.Err() == nil)
	return c, err
}

// Warm opens connections until the pool holds PoolSize of them, so the
// first calls pay no connection set-up. It fails if any dial fails.
func (s *Slave) Warm(ctx context.Context) error {
	held := make([]*conn.Conn, 0, s.cfg.PoolSize)
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
	return errors.Join(s.pool.Close(), s.loaded.Cleanup())
}

// PoolStats reports the connection pool's state.
func (s *Slave) PoolStats() conn.PoolStats { return s.pool.Stats() }

// CallForBuffer calls method with buf as the request and returns the
// response. It has no deadline; see Call.
func (s *Slave) CallForBuffer(method string, buf []byte) ([]byte, error) {
	return s.CallAppend(context.Background(), method, buf, nil)
}

// Call calls method with req as the request and returns the response in a
// new slice. A deadline on ctx bounds the whole call, travels to the
// master as the handler's deadline, and ends the call with an error
// matching context.DeadlineExceeded when it passes.
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
	cl := call{method: method, req: req, reqLen: uint64(len(req)), dst: dst}
	err := s.roundTrip(ctx, &cl)
	return cl.dst, err
}

// CallStream calls method with a request of exactly size bytes read from
// body, and copies the response into w as it arrives. Memory stays bounded
// whatever the sizes; MaxResponseSize does not apply. It returns the number
// of response bytes written to w.
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

// Capabilities asks the master which methods it serves.
func (s *Slave) Capabilities(ctx context.Context) ([]frame.Capability, error) {
	b, err := s.Call(ctx, frame.CapabilitiesName, nil)
	if err != nil {
		return nil, err
	}
	caps, err := frame.ParseCapabilities(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return caps, nil
}

// GetMasterCapabilities is Capabilities without a deadline.
func (s *Slave) GetMasterCapabilities() ([]frame.Capability, error) {
	return s.Capabilities(context.Background())
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
	got      int64 // bytes copied to w
	dstStart int   // len(dst) before the response
	broken   bool  // the request was not sent whole: c must not be reused
}

var pastTime = time.Unix(1, 0)

func (s *Slave) roundTrip(ctx context.Context, cl *call) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fastrpc: call %q: %w", cl.method, err)
	}
	if s.cfg.MaxRequestSize > 0 && cl.reqLen > uint64(s.cfg.MaxRequestSize) {
		return fmt.Errorf("fastrpc: call %q: %w: %d bytes, the slave's MaxRequestSize is %d; nothing was sent",
			cl.method, ErrRequestTooLarge, cl.reqLen, s.cfg.MaxRequestSize)
	}
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline && time.Until(deadline) <= 0 {
		return fmt.Errorf("fastrpc: call %q: %w", cl.method, context.DeadlineExceeded)
	}
	c, timeout, err := s.connFor(ctx, deadline, hasDeadline)
	if err != nil {
		return fmt.Errorf("fastrpc: call %q: %w", cl.method, err)
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
			return fmt.Errorf("%w; not sent again: %w", err, cerr)
		}
		err = s.attempt(ctx, cl, c, deadline, timeout)
	}
	return err
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
	cl.broken = false               // a previous attempt's, if any
	_ = c.SetCallDeadline(deadline) // zero clears a previous call's
	var stop func() bool
	if ctx.Done() != nil {
		// Cancellation interrupts blocked I/O; the connection is then dropped.
		stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(pastTime) })
	}

	err := s.exchange(c, frame.MethodID(cl.method), timeout, cl)
	// The cancellation must be stopped before c goes back to the pool. If it
	// already fired (or is firing), c's deadline is or will be in the past,
	// so c cannot be reused even though the exchange may have completed.
	reusable := stop == nil || stop()
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
		if !reusable || cl.broken || re.Status == frame.StatusShuttingDown || re.Status == frame.StatusRequestTooLarge {
			s.pool.Destroy(c)
		} else {
			s.pool.Release(c)
		}
		return err
	}
	s.pool.Destroy(c)
	cerr := ctx.Err()
	if cerr == nil && !deadline.IsZero() && !time.Now().Before(deadline) {
		// The socket deadline can fire a moment before ctx's own timer.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return fmt.Errorf("fastrpc: call %q: %w (%w)", cl.method, cerr, err)
	}
	return fmt.Errorf("fastrpc: call %q: %w", cl.method, err)
}

// acquire takes a connection from the pool. The pool drops idle
// connections that went stale (master restarted, idle timeout, shutdown
// notice) before handing them out; see conn.Pool.
func (s *Slave) acquire(ctx context.Context) (*conn.Conn, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil && errors.Is(err, conn.ErrPoolClosed) {
		err = ErrClosed
	}
	return c, err
}

// exchange sends the request and reads the response on c. A *RemoteError
// means the exchange completed and c is reusable; any other error leaves c
// in an unknown state.
func (s *Slave) exchange(c *conn.Conn, id uint64, timeout time.Duration, cl *call) error {
	h := frame.RequestHeader{Method: id, Length: cl.reqLen, Timeout: timeout}
	if err := c.WriteRequestHeader(h); err != nil {
		return s.afterWriteFailure(c, cl, err)
	}
	if cl.body == nil && cl.reqLen <= fullDuplexThreshold {
		if _, err := c.Write(cl.req); err != nil {
			return s.afterWriteFailure(c, cl, err)
		}
		if err := c.Flush(); err != nil {
			return s.afterWriteFailure(c, cl, err)
		}
		return s.readResponse(c, cl)
	}

	werr := make(chan error, 1)
	go func(req []byte, body io.Reader, n uint64) {
		err := writeBody(c, req, body, n)
		if err != nil {
			// The request will never be whole (body failed or ended early):
			// half-close so the master sees it end and drops the connection,
			// instead of both sides waiting for each other. An answer the
			// master already sent can still be read.
			_ = c.CloseWrite()
		}
		werr <- err
	}(cl.req, cl.body, cl.reqLen)
	rerr := s.readResponse(c, cl)
	answered := asRemote(rerr) != nil
	if rerr != nil && !answered {
		_ = c.SetWriteDeadline(pastTime) // unblock the writer; c is dropped anyway
	}
	if err := <-werr; err != nil {
		cl.broken = true
		if !answered {
			// Without an answer from the master, the failed send is the story.
			return fmt.Errorf("%w: sending the request: %w", ErrConnection, err)
		}
	}
	return rerr
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
		if err := s.readRemoteError(c, cl, h); asRemote(err) != nil {
			return err
		}
	}
	return fmt.Errorf("%w: sending the request: %w", ErrConnection, werr)
}

func (s *Slave) readResponse(c *conn.Conn, cl *call) error {
	h, err := c.ReadResponseHeader()
	if err != nil {
		if errors.Is(err, frame.ErrReserved) {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		return fmt.Errorf("%w: reading the response: %w", ErrConnection, err)
	}
	if h.Status != frame.StatusOK {
		return s.readRemoteError(c, cl, h)
	}
	if cl.w != nil {
		n, err := c.CopyTo(cl.w, h.Length)
		cl.got = n
		if err != nil {
			return fmt.Errorf("%w: streaming the response: %w", ErrConnection, err)
		}
		return nil
	}
	if s.cfg.MaxResponseSize > 0 && h.Length > uint64(s.cfg.MaxResponseSize) {
		return fmt.Errorf("%w: %d bytes, MaxResponseSize is %d", ErrResponseTooLarge, h.Length, s.cfg.MaxResponseSize)
	}
	if h.Length > uint64(maxInt) {
		return fmt.Errorf("%w: %d bytes do not fit in memory", ErrResponseTooLarge, h.Length)
	}
	n := int(h.Length)
	start := len(cl.dst)
	cl.dst = slices.Grow(cl.dst, n)[:start+n]
	if err := c.ReadFull(cl.dst[start:]); err != nil {
		cl.dst = cl.dst[:start]
		return fmt.Errorf("%w: reading the response: %w", ErrConnection, err)
	}
	return nil
}

const maxInt = int(^uint(0) >> 1)

func (s *Slave) readRemoteError(c *conn.Conn, cl *call, h frame.ResponseHeader) error {
	if h.Length > frame.MaxErrorMessage {
		return fmt.Errorf("%w: error message of %d bytes exceeds %d", ErrProtocol, h.Length, frame.MaxErrorMessage)
	}
	msg := make([]byte, h.Length)
	if err := c.ReadFull(msg); err != nil {
		return fmt.Errorf("%w: reading the error message: %w", ErrConnection, err)
	}
	return &RemoteError{Method: cl.method, Status: h.Status, Code: h.Code, Message: string(msg)}
}
