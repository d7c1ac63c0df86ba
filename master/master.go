package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
)

// Defaults for the zero Config.
const (
	DefaultHeaderTimeout   = 10 * time.Second
	DefaultBodyTimeout     = 30 * time.Second
	DefaultWriteTimeout    = 30 * time.Second
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultMaxConnections  = 10000
	DefaultShutdownTimeout = 10 * time.Second
)

// Config tunes a Master. The zero value is ready to use: every zero field
// takes the default named in its comment, and a negative value turns the
// limit off.
type Config struct {
	// MaxRequestSize bounds a request's payload, checked against the header
	// before anything is read. Larger requests are answered with
	// StatusRequestTooLarge and the connection is closed.
	// 0 means frame.DefaultMaxPayload.
	MaxRequestSize int64
	// HeaderTimeout bounds reading the preface and the rest of a request
	// header once its first byte has arrived, so a client that drips bytes
	// cannot hold a connection. 0 means DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// BodyTimeout closes a connection whose request payload stops
	// arriving: the master reading it (for a handler, or to discard it)
	// must get ProgressQuantum bytes, or the rest of the payload, within
	// every BodyTimeout it spends waiting. Time the handler spends not
	// reading does not count, so a gigabyte upload crosses at any rate
	// above that (about 2 KiB/s by default), and a payload dripped a few
	// bytes at a time is cut. The connection is closed with a log line.
	// 0 means DefaultBodyTimeout.
	BodyTimeout time.Duration
	// WriteTimeout is BodyTimeout for the response: a slave that stops
	// reading its answer (ProgressQuantum bytes or the rest within every
	// WriteTimeout the master spends blocked writing) has its connection
	// closed with a log line. On Linux what the slave takes from the
	// socket's send queue counts while a write is still blocked (the
	// kernel wakes a writer only after much of the buffer drained).
	// 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// IdleTimeout closes a connection that carries no request for this
	// long, measured on a coarse clock: it closes within a quarter more
	// (within 10ms for timeouts under 8ms).
	// The master first sends the connection a StatusShuttingDown notice,
	// so a slave that sends a request at that moment learns it was not
	// processed; slaves also notice closed connections before reusing
	// them. 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxConnections bounds the connections served at once; beyond it a new
	// connection gets a preface saying so and is closed. A connection
	// whose slave left while its handler runs stops counting at once, so
	// a handler that ignores its context cannot lock other slaves out; up
	// to MaxConnections such handlers run beyond the limit, and past that
	// their connections count until the handlers return.
	// 0 means DefaultMaxConnections.
	MaxConnections int
	// ShutdownTimeout is how long Serve, ListenAndServe and Run wait for
	// in-flight calls after their context is cancelled, before closing
	// everything. 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Logger receives connection errors, handler panics (with their stack)
	// and protocol violations. Nil means nothing is logged.
	Logger *slog.Logger
	// Conn sets the per-connection buffer sizes.
	Conn conn.Config
	// Middleware wraps every handler, the built-in capabilities included,
	// in order: the first is outermost. It is applied once at registration,
	// so a master without middleware pays nothing per call.
	Middleware []Middleware
	// Listeners are what Run serves; Serve and ListenAndServe take theirs
	// directly.
	Listeners []conn.Listener
	// Registry, if set, announces every listener the master serves (see
	// Registry) so that cluster clients find it, and withdraws it when
	// the master stops: Shutdown withdraws first and only then stops
	// accepting, so slaves move away before the master refuses them.
	Registry Registry
}

// Registry announces a serving master in a service registry, such as
// etcd (module fastrpcetcd), where cluster clients' resolvers find it.
type Registry interface {
	// Register announces reg and keeps the announcement alive (renewing
	// leases, announcing again after losing one) until the returned
	// withdraw is called; withdraw removes it and returns once resolvers
	// can no longer find it, or when its ctx ends. Register fails only
	// when it can never succeed, such as for an address it cannot
	// announce; a registry it cannot reach is retried in the background.
	// The master calls Register when Serve starts on a listener, and
	// withdraw once, when it stops serving that listener.
	Register(ctx context.Context, reg Registration) (withdraw func(context.Context) error, err error)
}

// Registration is what a master announces to its Registry.
type Registration struct {
	// Network and Address are those of the listener ("tcp",
	// "127.0.0.1:10000"); an address on all interfaces (":10000") is the
	// Registry's to replace with one slaves can dial.
	Network, Address string
	// Methods are the methods registered when Serve started on the
	// listener, without the built-in capabilities.
	Methods []string
}

// Middleware wraps a handler with behaviour of its own: logging, metrics,
// authorization, panic recovery. It may return ErrPermissionDenied or
// ErrPanicked (wrapped) to make the master answer with those statuses; see
// StatusOf.
type Middleware func(next Handler) Handler

func (c Config) withDefaults() Config {
	def := func(v, d int64) int64 {
		switch {
		case v == 0:
			return d
		case v < 0:
			return 0 // off
		}
		return v
	}
	c.MaxRequestSize = def(c.MaxRequestSize, frame.DefaultMaxPayload)
	c.HeaderTimeout = time.Duration(def(int64(c.HeaderTimeout), int64(DefaultHeaderTimeout)))
	c.BodyTimeout = time.Duration(def(int64(c.BodyTimeout), int64(DefaultBodyTimeout)))
	c.WriteTimeout = time.Duration(def(int64(c.WriteTimeout), int64(DefaultWriteTimeout)))
	c.IdleTimeout = time.Duration(def(int64(c.IdleTimeout), int64(DefaultIdleTimeout)))
	c.MaxConnections = int(def(int64(c.MaxConnections), DefaultMaxConnections))
	c.ShutdownTimeout = time.Duration(def(int64(c.ShutdownTimeout), int64(DefaultShutdownTimeout)))
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Errors returned by a Master.
var (
	// ErrClosed is returned by Serve, ListenAndServe and Run on a master
	// that was already closed or shut down.
	ErrClosed = errors.New("fastrpc: master is closed")
	// ErrDuplicate is returned when a method name is registered twice.
	ErrDuplicate = errors.New("fastrpc: method already registered")
	// ErrIDCollision is returned when two method names hash to the same ID.
	// Rename one of them.
	ErrIDCollision = errors.New("fastrpc: method ID collision")
	// ErrInvalidName is returned for an empty, reserved or too long name.
	ErrInvalidName = errors.New("fastrpc: invalid method name")
)

// Handler serves one call. It reads the request from the IOOperator,
// writes at most one response, and returns. A returned error becomes the
// caller's application error unless a response was already written. The
// IOOperator must not be used after the handler returns.
type Handler func(*IOOperator) error

// MethodInfo describes a method in the master's capabilities, and its limits.
type MethodInfo struct {
	Description       string
	IncomingEncoding  string
	ReturningEncoding string
	// MaxRequestSize, when not 0, replaces Config.MaxRequestSize for this
	// method: larger to accept uploads of any size (negative: no limit,
	// for a handler that streams its payload with WriteTo or Read),
	// smaller to refuse big requests early.
	MaxRequestSize int64
	// Idempotent says the method may run twice for one call with no harm
	// (a read, a put of the same value). Version 2 capabilities list it
	// (frame.IdempotentFeature), and a cluster client re-sends such a
	// call to another master when the connection is lost mid-call.
	Idempotent bool
}

type method struct {
	name    string
	handler Handler
	maxReq  uint64 // 0: no limit
}

// methodID is frame.MethodID; tests replace it to provoke collisions.
var methodID = frame.MethodID

type registry struct {
	byID   map[uint64]*method
	caps   []byte // encoded capabilities body, version 1
	capsV2 []byte // and version 2, with the features
}

// features is what the master says it speaks, in version 2 capabilities.
var features = []string{frame.VersionFeature(frame.Version1), frame.VersionFeature(frame.Version2), frame.FeatureMetadata, frame.FeatureCancel}

// encodeCaps encodes the capabilities bodies of both versions for infos,
// whose first entry is the capabilities method's own, and the idempotent
// methods idem.
func encodeCaps(infos []frame.Capability, idem []string) (v1, v2 []byte, err error) {
	v1, err = frame.AppendCapabilities(nil, infos)
	if err != nil {
		return nil, nil, err
	}
	infos2 := append([]frame.Capability(nil), infos...)
	infos2[0].ReturningEncoding = frame.CapabilitiesEncodingV2
	feats := features
	if len(idem) > 0 {
		feats = append(feats[:len(feats):len(feats)], make([]string, 0, len(idem))...)
		for _, name := range idem {
			feats = append(feats, frame.IdempotentFeature(name))
		}
	}
	v2, err = frame.AppendCapabilitiesV2(nil, frame.Capabilities{Methods: infos2, Features: feats})
	return v1, v2, err
}

// Master serves registered methods to slaves. Create one with New; its
// methods are safe for concurrent use.
type Master struct {
	cfg Config

	regMu sync.Mutex // serialises writers of reg
	reg   atomic.Pointer[registry]
	infos []frame.Capability // guarded by regMu
	idem  []string           // idempotent methods, guarded by regMu

	// ctx is cancelled when the master is closed; handler contexts derive
	// from it.
	ctx    context.Context
	cancel context.CancelFunc

	mu           sync.Mutex
	listeners    map[net.Listener]struct{}
	conns        map[*serverConn]struct{}
	shuttingDown atomic.Bool
	closed       bool
	connWG       sync.WaitGroup
	// The sweeper and the call watcher run until stop closes: after every
	// connection is gone, so they keep timing connections during a
	// graceful shutdown.
	bgWG        sync.WaitGroup
	stop        chan struct{}
	stopOnce    sync.Once
	abandoned   atomic.Int64 // handlers still running whose slave left, slot freed
	nconns      atomic.Int64
	done        chan struct{}  // closed when shutdown begins
	loader      *module.Loader // modules loaded by FromJSON; nil otherwise
	cleanupOnce sync.Once
	// withdraw holds each announced listener's withdrawal (guarded by mu),
	// taken out by whoever calls it.
	withdraw map[net.Listener]func(context.Context) error
	// ticks counts the sweeper's ticks; sweeping says it runs. The
	// timeouts in ticks are set by New; 0 is off.
	ticks                            atomic.Uint64
	sweeping                         bool // guarded by mu
	sweepPeriod                      time.Duration
	idleTicks, bodyTicks, writeTicks uint64
	// watchIdle says watchCalls is parked, waiting on watchWake.
	watchIdle atomic.Bool
	watchWake chan struct{}
}

// New returns a master with no methods but the built-in capabilities.
func New(cfg Config) *Master {
	m := &Master{
		cfg:       cfg.withDefaults(),
		listeners: make(map[net.Listener]struct{}),
		withdraw:  make(map[net.Listener]func(context.Context) error),
		conns:     make(map[*serverConn]struct{}),
		done:      make(chan struct{}),
		watchWake: make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.timeSweeps()
	m.infos = []frame.Capability{{
		Name:              frame.CapabilitiesName,
		Description:       "lists the methods this master serves",
		ReturningEncoding: frame.CapabilitiesEncoding,
	}}
	caps, capsV2, _ := encodeCaps(m.infos, nil)
	capsMethod := &method{name: frame.CapabilitiesName, handler: m.wrap(m.serveCapabilities), maxReq: uint64(max(m.cfg.MaxRequestSize, 0))}
	m.reg.Store(&registry{byID: map[uint64]*method{0: capsMethod}, caps: caps, capsV2: capsV2})
	return m
}

// serveCapabilities is the built-in method with ID 0: version 2
// connections also learn the master's features.
func (m *Master) serveCapabilities(op *IOOperator) error {
	if op.c.Version() >= frame.Version2 {
		return op.WriteIOFromBuffer(m.reg.Load().capsV2)
	}
	return op.WriteIOFromBuffer(m.reg.Load().caps)
}

// wrap applies the configured middleware to h, the first outermost.
func (m *Master) wrap(h Handler) Handler {
	for i := len(m.cfg.Middleware) - 1; i >= 0; i-- {
		h = m.cfg.Middleware[i](h)
	}
	return h
}

// Register adds a method. Names are unique, non-empty, at most
// frame.MaxStringLen bytes and not "capabilities"; two names whose IDs
// collide are refused (ErrIDCollision). Methods may be registered while the
// master is serving.
func (m *Master) Register(name string, info MethodInfo, h Handler) error {
	if h == nil {
		return fmt.Errorf("%w: %q has a nil handler", ErrInvalidName, name)
	}
	id := methodID(name)
	switch {
	case name == "" || len(name) > frame.MaxStringLen:
		return fmt.Errorf("%w: %q must be 1 to %d bytes", ErrInvalidName, name, frame.MaxStringLen)
	case name == frame.CapabilitiesName:
		return fmt.Errorf("%w: %q is built in", ErrInvalidName, name)
	case id == 0:
		return fmt.Errorf("%w: %q hashes to the reserved ID 0; rename it", ErrIDCollision, name)
	}
	capb := frame.Capability{Name: name, Description: info.Description, IncomingEncoding: info.IncomingEncoding, ReturningEncoding: info.ReturningEncoding}
	m.regMu.Lock()
	defer m.regMu.Unlock()
	old := m.reg.Load()
	if prev, ok := old.byID[id]; ok {
		if prev.name == name {
			return fmt.Errorf("%w: %q", ErrDuplicate, name)
		}
		return fmt.Errorf("%w: %q and %q both hash to %#016x; rename one", ErrIDCollision, prev.name, name, id)
	}
	infos := append(m.infos[:len(m.infos):len(m.infos)], capb)
	idem := m.idem
	if info.Idempotent {
		idem = append(idem[:len(idem):len(idem)], name)
	}
	caps, capsV2, err := encodeCaps(infos, idem)
	if err != nil {
		return err
	}
	byID := make(map[uint64]*method, len(old.byID)+1)
	for k, v := range old.byID {
		byID[k] = v
	}
	maxReq := uint64(max(m.cfg.MaxRequestSize, 0))
	switch {
	case info.MaxRequestSize > 0:
		maxReq = uint64(info.MaxRequestSize)
	case info.MaxRequestSize < 0:
		maxReq = 0
	}
	byID[id] = &method{name: name, handler: m.wrap(h), maxReq: maxReq}
	m.infos, m.idem = infos, idem
	m.reg.Store(&registry{byID: byID, caps: caps, capsV2: capsV2})
	return nil
}

// Capabilities returns what the capabilities method lists.
func (m *Master) Capabilities() []frame.Capability {
	m.regMu.Lock()
	defer m.regMu.Unlock()
	return append([]frame.Capability(nil), m.infos...)
}

// Addrs returns the addresses of the listeners being served now, in no
// particular order; with port 0 they tell the port picked. It does not
// wait: a listener is there once Serve (or Run, for each of
// Config.Listeners) has started on it.
func (m *Master) Addrs() []net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	addrs := make([]net.Addr, 0, len(m.listeners))
	for ln := range m.listeners {
		addrs = append(addrs, ln.Addr())
	}
	return addrs
}

// Run opens every listener in Config.Listeners and serves them all until
// ctx is cancelled (then it shuts down gracefully, for up to
// Config.ShutdownTimeout) or the master is shut down or closed. It returns
// nil then, or the first error of a listener that failed. Addrs tells
// where it listens.
func (m *Master) Run(ctx context.Context) error {
	if len(m.cfg.Listeners) == 0 {
		return errors.New("fastrpc: Run: Config.Listeners is empty; use Serve or ListenAndServe, or configure listeners")
	}
	lns := make([]net.Listener, 0, len(m.cfg.Listeners))
	for i, l := range m.cfg.Listeners {
		ln, err := l.Listen(ctx)
		if err != nil {
			for _, ln := range lns {
				_ = ln.Close()
			}
			return errtext.Errorf("Run: listener %d: %w", i, err)
		}
		lns = append(lns, ln)
	}
	errs := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errs <- m.Serve(ctx, ln) }()
	}
	var first error
	for range lns {
		if err := <-errs; err != nil && first == nil {
			first = err
			_ = m.Close() // one listener failed: stop the others too
		}
	}
	return first
}

// ListenAndServe listens on a TCP address ("127.0.0.1:0" picks a free port,
// see Addr) and serves it like Serve.
func (m *Master) ListenAndServe(ctx context.Context, address string) error {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return errtext.Errorf("listen on %s: %w", address, err)
	}
	return m.Serve(ctx, ln)
}

// Serve accepts connections on ln and serves each in its own goroutine. It
// blocks until ctx is cancelled (then it shuts the whole master down
// gracefully, for up to Config.ShutdownTimeout), Shutdown or Close is
// called (it returns nil), or ln fails (it returns the error). Serve may be
// called for several listeners at once; ln is closed when Serve returns.
func (m *Master) Serve(ctx context.Context, ln net.Listener) error {
	m.mu.Lock()
	if m.closed || m.shuttingDown.Load() {
		m.mu.Unlock()
		_ = ln.Close()
		return ErrClosed
	}
	m.listeners[ln] = struct{}{}
	m.mu.Unlock()
	if err := m.announce(ctx, ln); err != nil {
		m.mu.Lock()
		delete(m.listeners, ln)
		m.mu.Unlock()
		_ = ln.Close()
		return err
	}
	// Cancelling ctx shuts the master down; Serve returns once that is over.
	graceful := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(graceful)
		sctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
		defer cancel()
		_ = m.Shutdown(sctx)
	})
	defer stop()
	defer func() {
		m.mu.Lock()
		delete(m.listeners, ln)
		w := m.withdraw[ln]
		delete(m.withdraw, ln)
		m.mu.Unlock()
		_ = ln.Close()
		if w != nil { // ln failed: Shutdown and Close withdraw first
			m.withdrawAll(map[net.Listener]func(context.Context) error{ln: w}, withdrawTimeout)
		}
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if m.stopping() {
				if !stop() && ctx.Err() != nil {
					<-graceful
				}
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: back off, keep serving.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				m.cfg.Logger.Warn("fastrpc: accept failed; retrying", "err", err, "backoff", backoff)
				select {
				case <-time.After(backoff):
				case <-m.done:
				}
				continue
			}
			return errtext.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		backoff = 0
		m.accept(nc)
	}
}

// withdrawTimeout bounds withdrawing announcements when the master is
// closed at once or a listener fails.
const withdrawTimeout = time.Second

// announce registers ln with the configured Registry, if any.
func (m *Master) announce(ctx context.Context, ln net.Listener) error {
	if m.cfg.Registry == nil {
		return nil
	}
	m.regMu.Lock()
	var methods []string
	for _, info := range m.infos[1:] { // [0] is the capabilities
		methods = append(methods, info.Name)
	}
	m.regMu.Unlock()
	addr := ln.Addr()
	w, err := m.cfg.Registry.Register(ctx, Registration{Network: addr.Network(), Address: addr.String(), Methods: methods})
	if err != nil {
		return errtext.Errorf("announce %s to the registry: %w", addr, err)
	}
	m.mu.Lock()
	if m.closed || m.shuttingDown.Load() {
		m.mu.Unlock()
		m.withdrawAll(map[net.Listener]func(context.Context) error{ln: w}, withdrawTimeout)
		return ErrClosed
	}
	m.withdraw[ln] = w
	m.mu.Unlock()
	return nil
}

// takeWithdrawals removes and returns every pending withdrawal; the
// caller holds mu.
func (m *Master) takeWithdrawals() map[net.Listener]func(context.Context) error {
	ws := m.withdraw
	m.withdraw = make(map[net.Listener]func(context.Context) error)
	return ws
}

// withdrawAll withdraws announcements at once, each within d, logging
// failures (the registry's lease expiry removes what is left).
func (m *Master) withdrawAll(ws map[net.Listener]func(context.Context) error, d time.Duration) {
	if len(ws) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m.withdrawCtx(ctx, ws)
}

func (m *Master) withdrawCtx(ctx context.Context, ws map[net.Listener]func(context.Context) error) {
	var wg sync.WaitGroup
	for ln, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w(ctx); err != nil {
				m.cfg.Logger.Warn("fastrpc: withdrawing the master from the registry failed; its entry goes when its lease expires", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	wg.Wait()
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (m *Master) stopping() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed || m.shuttingDown.Load()
}

// accept starts serving nc, or refuses it when the master is at its
// connection limit or stopping.
func (m *Master) accept(nc net.Conn) {
	c := conn.New(nc, m.cfg.Conn)
	sc := &serverConn{m: m, c: c}
	m.mu.Lock()
	refuse := frame.HandshakeOK
	switch {
	case m.closed:
		m.mu.Unlock()
		_ = nc.Close()
		return
	case m.shuttingDown.Load():
		refuse = frame.HandshakeShuttingDown
	case m.cfg.MaxConnections > 0 && m.nconns.Load() >= int64(m.cfg.MaxConnections):
		refuse = frame.HandshakeOverloaded
	default:
		m.conns[sc] = struct{}{}
		m.nconns.Add(1)
	}
	if refuse != frame.HandshakeOK {
		m.mu.Unlock()
		// Not counted in connWG: Shutdown may already be waiting on it, and
		// this goroutine ends by itself within two lingerTimeouts.
		go func() {
			m.cfg.Logger.Warn("fastrpc: refusing connection", "remote", nc.RemoteAddr(), "reason", refuse)
			// A deadline both ways: over TLS, writing runs the handshake,
			// which reads, and a silent peer must not hold this goroutine.
			_ = c.SetDeadline(time.Now().Add(lingerTimeout))
			if c.WritePreface(refuse) == nil {
				lingerClose(c)
			}
			_ = c.Close()
		}()
		return
	}
	sc.counted.Store(true)
	m.connWG.Add(1)
	if !m.sweeping {
		m.sweeping = true
		m.bgWG.Add(1)
		go m.watchCalls()
		if m.sweepPeriod > 0 {
			m.bgWG.Add(1)
			go m.sweep()
		}
	}
	m.mu.Unlock()
	go sc.serve()
}

// sweepTicks is how many sweeper ticks make the shortest of IdleTimeout,
// BodyTimeout and WriteTimeout, and minSweepPeriod keeps a tiny timeout
// from making the sweeper spin.
const (
	sweepTicks     = 8
	minSweepPeriod = time.Millisecond
)

// timeSweeps sets the sweeper's period and each timeout in its ticks.
func (m *Master) timeSweeps() {
	shortest := time.Duration(0)
	for _, d := range []time.Duration{m.cfg.IdleTimeout, m.cfg.BodyTimeout, m.cfg.WriteTimeout} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest == 0 {
		return
	}
	m.sweepPeriod = max(shortest/sweepTicks, minSweepPeriod)
	ticks := func(d time.Duration) uint64 {
		if d <= 0 {
			return 0
		}
		return uint64((d + m.sweepPeriod - 1) / m.sweepPeriod)
	}
	m.idleTicks, m.bodyTicks, m.writeTicks = ticks(m.cfg.IdleTimeout), ticks(m.cfg.BodyTimeout), ticks(m.cfg.WriteTimeout)
}

// sweep closes connections that stay idle for IdleTimeout, and those
// whose payload or response makes no progress for BodyTimeout or
// WriteTimeout. One goroutine per master does it on a coarse clock,
// instead of each connection re-arming socket deadlines around every call
// and every read: that costs timer updates on the hot path. A connection
// records the tick at which it became idle (or began to wait on its peer),
// and is closed once the count is a timeout's ticks plus 2 past it. One
// tick of that is the part of a tick before it began; the other is slack
// for the ticker: after the sweeper was held up (CPU starvation), the tick
// it missed and the next one can arrive back to back, and a connection
// stamped just before them must still not close early. So a connection
// closes after its timeout, and by the timeout plus three ticks (a quarter
// more for the shortest of the three timeouts) and the sweeper's own
// scheduling delay. It ends when the master stops.
func (m *Master) sweep() {
	defer m.bgWG.Done()
	t := time.NewTicker(m.sweepPeriod)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		now := m.ticks.Add(1)
		m.mu.Lock()
		for sc := range m.conns {
			if m.idleTicks > 0 && now >= m.idleTicks+2 {
				sc.expireIfIdleSince(now - m.idleTicks - 2)
			}
			sc.interruptIfStalled(now)
		}
		m.mu.Unlock()
	}
}

// watchCalls starts the peer watcher of each handler that has run for
// watchDelay since its request was read (see serverConn.watchPeer). One
// goroutine per master scans the connections instead of each call arming
// a timer. A scan costs about 20ns per connection, so the period grows
// with the count, keeping the scans under 2% of a core: about 1ms up to a
// thousand connections, 10ms at ten thousand. It parks after 100 scans
// that found no handler running, and the next armWatch wakes it. It ends
// when the master stops.
func (m *Master) watchCalls() {
	defer m.bgWG.Done()
	t := time.NewTimer(watchDelay)
	defer t.Stop()
	quiet := 0
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		start := monoNow()
		busy := m.scanCalls(start)
		cost := monoNow() - start
		if busy {
			quiet = 0
		} else if quiet++; quiet >= 100 {
			// Park; a handler armed before watchIdle was visible is found
			// by the scan after it.
			m.watchIdle.Store(true)
			if !m.scanCalls(monoNow()) {
				select {
				case <-m.stop:
					return
				case <-m.watchWake:
				}
			}
			m.watchIdle.Store(false)
			quiet = 0
		}
		t.Reset(max(watchDelay, 50*cost))
	}
}

// scanCalls starts watchers for slow handlers and reports whether any
// handler is armed.
func (m *Master) scanCalls(now time.Duration) (busy bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for sc := range m.conns {
		if sc.watchIfSlow(now) {
			busy = true
		}
	}
	return busy
}

// wakeWatcher unparks watchCalls.
func (m *Master) wakeWatcher() {
	if m.watchIdle.CompareAndSwap(true, false) {
		select {
		case m.watchWake <- struct{}{}:
		default:
		}
	}
}

// forget removes a connection whose goroutine is ending.
func (m *Master) forget(sc *serverConn) {
	m.mu.Lock()
	delete(m.conns, sc)
	m.mu.Unlock()
	m.freeSlot(sc)
	m.connWG.Done()
}

// freeSlot stops counting sc against MaxConnections, once: when its
// goroutine ends, or earlier (freeAbandoned).
func (m *Master) freeSlot(sc *serverConn) {
	if sc.counted.CompareAndSwap(true, false) {
		m.nconns.Add(-1)
	}
	if sc.abandoned.CompareAndSwap(true, false) {
		m.abandoned.Add(-1)
	}
}

// freeAbandoned frees the slot of a connection whose slave left while its
// handler still runs, so that handlers ignoring their context cannot lock
// other slaves out. Such handlers are bounded too: beyond MaxConnections
// of them, a connection keeps its slot until its handler returns, as
// every connection did before, so at most twice MaxConnections handlers
// run at once.
func (m *Master) freeAbandoned(sc *serverConn) {
	if m.cfg.MaxConnections > 0 && m.abandoned.Add(1) > int64(m.cfg.MaxConnections) {
		m.abandoned.Add(-1)
		return
	}
	sc.abandoned.Store(true)
	if sc.counted.CompareAndSwap(true, false) {
		m.nconns.Add(-1)
	}
}

// stopBackground ends the sweeper and the call watcher.
func (m *Master) stopBackground() {
	m.stopOnce.Do(func() { close(m.stop) })
}

// Shutdown stops the master gracefully: it withdraws it from its Registry
// (waiting for that, within ctx, while still accepting), stops accepting,
// lets calls in flight finish, answers requests that arrive on open connections with
// StatusShuttingDown, and closes connections as they become idle. It
// returns nil once every connection is closed, or ctx's error if ctx ends
// first, in which case it closes everything as Close does.
func (m *Master) Shutdown(ctx context.Context) error {
	// Withdraw from the registry while still accepting, so slaves that
	// have not yet seen the withdrawal are still served.
	m.mu.Lock()
	ws := m.takeWithdrawals()
	m.mu.Unlock()
	m.withdrawCtx(ctx, ws)

	m.mu.Lock()
	if !m.shuttingDown.Swap(true) {
		close(m.done)
	}
	for ln := range m.listeners {
		_ = ln.Close()
	}
	for sc := range m.conns {
		sc.wakeIfIdle()
	}
	m.mu.Unlock()

	finished := make(chan struct{})
	go func() { m.connWG.Wait(); close(finished) }()
	select {
	case <-finished:
		m.cancel()
		m.stopBackground()
		m.bgWG.Wait()
		return m.cleanup()
	case <-ctx.Done():
		_ = m.Close()
		return ctx.Err()
	}
}

// Close stops the master at once: listeners and every connection are
// closed, and handler contexts are cancelled. Calls in flight fail on the
// slave side with connection errors. It does not wait for handlers to
// return; it waits up to a second for the master's withdrawal from its
// Registry.
func (m *Master) Close() error {
	m.mu.Lock()
	if !m.shuttingDown.Swap(true) {
		close(m.done)
	}
	m.closed = true
	// Handlers' contexts end first, with this cause; one made from now on
	// starts ended.
	m.cancel()
	for sc := range m.conns {
		sc.endCall(ErrClosed)
	}
	for ln := range m.listeners {
		_ = ln.Close()
	}
	for sc := range m.conns {
		_ = sc.c.Close()
	}
	ws := m.takeWithdrawals()
	m.mu.Unlock()
	m.stopBackground()
	m.withdrawAll(ws, withdrawTimeout)
	return m.cleanup()
}
