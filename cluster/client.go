package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// Defaults of Config.
const (
	// DefaultEjectBackoff is how long a failing master is first left out.
	DefaultEjectBackoff = time.Second
	// DefaultMaxEjectBackoff bounds the doubling of the ejection time.
	DefaultMaxEjectBackoff = 30 * time.Second
	// DefaultMaxAttempts is how many masters one call may try.
	DefaultMaxAttempts = 3
	// DefaultRetryTokens and DefaultRetryRatio are the retry budget: as
	// gRPC's retry throttling, each budgeted retry (a re-send of an
	// idempotent call, or a retry while every master is ejected) costs a
	// token, each success gives back DefaultRetryRatio of one, and such a
	// retry is made only while more than half of the tokens are left.
	DefaultRetryTokens = 10
	DefaultRetryRatio  = 0.1
	// capsTimeout bounds fetching a master's capabilities.
	capsTimeout = 5 * time.Second
)

// ErrNoMasters means no master can take the call: the resolver has found
// none yet, or none of those it found serves the method. Nothing was sent;
// it matches slave.ErrUnavailable.
var ErrNoMasters = errors.New("fastrpc: cluster: no master can take the call")

// Config tunes a Client. Resolver is required; every other zero field
// takes the default in its comment.
type Config struct {
	// Resolver finds the masters and reports changes.
	Resolver Resolver
	// Balancer spreads the calls; nil means RoundRobin.
	Balancer Balancer
	// Slave is the configuration of the slave made for each master (its
	// Address is the master's): dialer, pool, limits, middleware.
	Slave slave.Config
	// EjectBackoff is how long a master whose connections or dials fail
	// is left out at first; it doubles with each failure in a row, up to
	// MaxEjectBackoff, and a success brings it back to the start. 0 means
	// DefaultEjectBackoff and DefaultMaxEjectBackoff.
	EjectBackoff, MaxEjectBackoff time.Duration
	// MaxAttempts bounds how many masters one call tries; 0 means
	// DefaultMaxAttempts.
	MaxAttempts int
	// Idempotent names methods that may run twice: a call to one that
	// failed after it may have reached a handler (a connection lost
	// mid-call) is tried on another master too. So are calls made with a
	// context from Idempotent, and calls to a method the master that lost
	// it lists as idempotent in its capabilities (master.MethodInfo's
	// Idempotent, on protocol version 2).
	Idempotent []string
	// RetryTokens and RetryRatio set the retry budget; 0 means
	// DefaultRetryTokens and DefaultRetryRatio, negative RetryTokens turns
	// the budget off.
	RetryTokens int
	RetryRatio  float64
}

// Client calls methods on many masters: it keeps one slave per master
// the resolver found, picks a master for each call with its balancer,
// leaves out failing masters for a while, and tries a call that failed
// before it reached a handler on another master within the call's
// context. Its methods are safe for concurrent use; it satisfies
// typed.Caller.
type Client struct {
	cfg      Config
	balancer Balancer
	ctx      context.Context
	cancel   context.CancelFunc
	watchErr chan error
	watched  chan struct{} // closed once Watch has returned

	mu      sync.Mutex
	members []*member // in the resolver's order, kept stable
	ready   chan struct{}
	once    sync.Once
	state   atomic.Pointer[state]
	closed  atomic.Bool

	tokens atomic.Int64   // retry budget, in thousandths of a token
	loader *module.Loader // modules loaded by FromJSON; nil otherwise
}

// state is what a call reads: the members and their picker, replaced
// whole on every change.
type state struct {
	members []*member
	picker  Picker
}

// member is one master.
type member struct {
	addr     string
	weight   atomic.Int64 // a resolver may change it while calls read it
	s        *slave.Slave
	inFlight atomic.Int64
	calls    atomic.Int64
	failures atomic.Int64                    // in a row
	ejected  atomic.Int64                    // until, in UnixNano; 0: not ejected
	methods  atomic.Pointer[map[string]bool] // served, to whether the master says it is idempotent
	fetching atomic.Bool
}

func (m *member) Address() string { return m.addr }
func (m *member) Weight() int     { return int(m.weight.Load()) }
func (m *member) InFlight() int64 { return m.inFlight.Load() }

// New returns a client for the masters cfg.Resolver finds; it starts
// watching at once and connects on demand.
func New(cfg Config) (*Client, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("fastrpc: cluster Config.Resolver is required")
	}
	if cfg.EjectBackoff <= 0 {
		cfg.EjectBackoff = DefaultEjectBackoff
	}
	if cfg.MaxEjectBackoff <= 0 {
		cfg.MaxEjectBackoff = DefaultMaxEjectBackoff
	}
	cfg.MaxEjectBackoff = max(cfg.MaxEjectBackoff, cfg.EjectBackoff)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.RetryTokens == 0 {
		cfg.RetryTokens = DefaultRetryTokens
	}
	if cfg.RetryRatio <= 0 {
		cfg.RetryRatio = DefaultRetryRatio
	}
	// A template slave checks the shared configuration up front.
	tmpl := cfg.Slave
	tmpl.Address = "127.0.0.1:1"
	probe, err := slave.New(tmpl)
	if err != nil {
		return nil, errtext.Errorf("cluster: the slave configuration: %w", err)
	}
	_ = probe.Close()
	c := &Client{cfg: cfg, balancer: cfg.Balancer, ready: make(chan struct{}), watchErr: make(chan error, 1), watched: make(chan struct{})}
	if c.balancer == nil {
		c.balancer = &RoundRobin{}
	}
	c.tokens.Store(int64(cfg.RetryTokens) * 1000)
	c.state.Store(&state{})
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(c.watched)
		c.watchErr <- cfg.Resolver.Watch(c.ctx, c.update)
	}()
	return c, nil
}

// update applies a resolver's list: new masters get a slave, gone ones
// are closed once their calls are over.
func (c *Client) update(eps []Endpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	want := map[string]Endpoint{}
	for _, ep := range eps {
		if _, dup := want[ep.Address]; !dup && ep.Address != "" {
			want[ep.Address] = ep
		}
	}
	var kept []*member
	for _, m := range c.members {
		if ep, ok := want[m.addr]; ok {
			m.weight.Store(int64(max(ep.Weight, 1)))
			kept = append(kept, m)
			delete(want, m.addr)
		} else {
			go func() { _ = m.s.Close() }() // in-flight calls finish first
		}
	}
	for _, ep := range eps {
		if _, ok := want[ep.Address]; !ok {
			continue
		}
		delete(want, ep.Address)
		cfg := c.cfg.Slave
		cfg.Address = ep.Address
		s, err := slave.New(cfg)
		if err != nil {
			continue // an address the slave refuses (no port): never callable
		}
		m := &member{addr: ep.Address, s: s}
		m.weight.Store(int64(max(ep.Weight, 1)))
		kept = append(kept, m)
		go c.fetchMethods(m)
	}
	c.members = kept
	st := &state{members: kept}
	if len(kept) > 0 {
		bm := make([]Member, len(kept))
		for i, m := range kept {
			bm[i] = m
		}
		st.picker = c.balancer.Build(bm)
	}
	c.state.Store(st)
	c.once.Do(func() { close(c.ready) })
}

// fetchMethods learns which methods m serves, once, in the background;
// until it knows, m takes any call.
func (c *Client) fetchMethods(m *member) {
	if !m.fetching.CompareAndSwap(false, true) {
		return
	}
	defer m.fetching.Store(false)
	ctx, cancel := context.WithTimeout(c.ctx, capsTimeout)
	defer cancel()
	caps, err := m.s.Capabilities(ctx)
	if err != nil {
		return
	}
	set := make(map[string]bool, len(caps.Methods))
	for _, mc := range caps.Methods {
		set[mc.Name] = false
	}
	for _, name := range caps.Idempotent() {
		if _, ok := set[name]; ok {
			set[name] = true
		}
	}
	m.methods.Store(&set)
}

// serves reports whether m serves method, as far as the client knows.
func (m *member) serves(method string) bool {
	set := m.methods.Load()
	if set == nil || method == frame.CapabilitiesName {
		return true
	}
	_, ok := (*set)[method]
	return ok
}

// idempotent reports whether m's capabilities declare method idempotent.
func (m *member) idempotent(method string) bool {
	set := m.methods.Load()
	return set != nil && (*set)[method]
}

// Close stops watching and closes every master's slave; calls in flight
// finish first.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.cancel()
	<-c.watched // the resolver is done before its module is cleaned up
	c.mu.Lock()
	members := c.members
	c.members = nil
	c.state.Store(&state{})
	c.mu.Unlock()
	var errs []error
	for _, m := range members {
		errs = append(errs, m.s.Close())
	}
	errs = append(errs, c.loader.Cleanup())
	return errors.Join(errs...)
}

type idempotentKey struct{}

// Idempotent returns ctx marking the calls made with it as safe to run
// twice (see Config.Idempotent).
func Idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// Call calls method on one of the masters and returns the response in a
// new slice; see Client for how a master is picked and when a call is
// tried on another.
func (c *Client) Call(ctx context.Context, method string, req []byte) ([]byte, error) {
	return c.CallAppend(ctx, method, req, nil)
}

// CallAppend is Call appending the response to dst.
func (c *Client) CallAppend(ctx context.Context, method string, req, dst []byte) ([]byte, error) {
	var out []byte
	err := c.do(ctx, method, func(s *slave.Slave) error {
		var err error
		out, err = s.CallAppend(ctx, method, req, dst)
		return err
	})
	if out == nil {
		out = dst
	}
	return out, err
}

// CallStream calls method with size bytes from body, copying the response
// to w (see slave.Slave.CallStream). Only a call that was not sent at all
// is tried on another master: a stream cannot be replayed.
func (c *Client) CallStream(ctx context.Context, method string, body io.Reader, size int64, w io.Writer) (int64, error) {
	var n int64
	err := c.do(ctx, method, func(s *slave.Slave) error {
		var err error
		n, err = s.CallStream(ctx, method, body, size, w)
		return err
	}, noReplay)
	return n, err
}

// Capabilities returns the capabilities of one of the masters.
func (c *Client) Capabilities(ctx context.Context) (frame.Capabilities, error) {
	var caps frame.Capabilities
	err := c.do(ctx, frame.CapabilitiesName, func(s *slave.Slave) error {
		var err error
		caps, err = s.Capabilities(ctx)
		return err
	})
	return caps, err
}

// MemberStats is one master as the client sees it.
type MemberStats struct {
	Address  string
	Calls    int64 // calls sent to it, answered or not
	InFlight int64
	Ejected  bool // left out for now after failures
}

// Members reports the masters the client knows, in the resolver's order.
func (c *Client) Members() []MemberStats {
	st := c.state.Load()
	now := time.Now().UnixNano()
	out := make([]MemberStats, len(st.members))
	for i, m := range st.members {
		out[i] = MemberStats{Address: m.addr, Calls: m.calls.Load(), InFlight: m.inFlight.Load(), Ejected: m.ejected.Load() > now}
	}
	return out
}

type doOption int

const noReplay doOption = 1

// do makes a call on a picked master, and again on others while the
// failure allows it (see retryable), the budget lasts and ctx runs.
func (c *Client) do(ctx context.Context, method string, attempt func(*slave.Slave) error, opts ...doOption) error {
	if c.closed.Load() {
		return slave.ErrClosed
	}
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	replay := !slices.Contains(opts, noReplay)
	idempotent := replay && (slices.Contains(c.cfg.Idempotent, method) || ctx.Value(idempotentKey{}) != nil)
	a := attemptsPool.Get().(*attempts)
	a.method, a.tried = method, a.buf[:0]
	defer func() {
		clear(a.buf[:])
		a.tried = nil
		attemptsPool.Put(a)
	}()
	var last error
	for n := 0; n < c.cfg.MaxAttempts; n++ {
		m := c.pick(ctx, a)
		if m == nil {
			break
		}
		a.tried = append(a.tried, m)
		m.inFlight.Add(1)
		m.calls.Add(1)
		err := attempt(m.s)
		m.inFlight.Add(-1)
		c.account(m, err)
		if err == nil {
			return nil
		}
		last = err
		idem := idempotent || replay && m.idempotent(method)
		if !c.retryable(ctx, err, idem) {
			if !idem && replay && errors.Is(err, slave.ErrConnection) {
				return errtext.Errorf("%w; the call may have run, so it was not sent to another master (list its method in Config.Idempotent, or register it with MethodInfo.Idempotent, if it may run twice)", err)
			}
			return err
		}
		// The budget is for a dying cluster: a re-send that may run twice,
		// or a retry after a master picked only because every one was
		// ejected. Like gRPC's transparent retries, a call that never left
		// for a healthy master, or met an unknown method (which says
		// nothing of health), goes on to the next outside it.
		free := errors.Is(err, slave.ErrUnknownMethod) || !a.anyway && notSent(err)
		if n+1 == c.cfg.MaxAttempts || !free && !c.spend() {
			return err
		}
	}
	if last != nil {
		return last
	}
	return errtext.Errorf("call %q: %w; nothing was sent", method, noMasters{})
}

// noMasters is ErrNoMasters, matching slave.ErrUnavailable too.
type noMasters struct{}

func (noMasters) Error() string { return ErrNoMasters.Error() }
func (noMasters) Is(target error) bool {
	return target == ErrNoMasters || target == slave.ErrUnavailable
}

// waitReady waits for the resolver's first list.
func (c *Client) waitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	default:
	}
	select {
	case <-c.ready:
		return nil
	case err := <-c.watchErr:
		c.watchErr <- err
		return errtext.Errorf("cluster: the resolver failed before finding a master: %w", err)
	case <-ctx.Done():
		return errtext.Errorf("cluster: no master found before the call's context ended: %w", ctx.Err())
	}
}

// attempts is one call's state across its attempts. They are pooled, and
// eligible is bound once, so placing a call allocates nothing.
type attempts struct {
	method   string
	now      int64
	anyway   bool // ignore ejection
	tried    []*member
	buf      [DefaultMaxAttempts]*member
	eligible func(Member) bool
}

var attemptsPool = sync.Pool{New: func() any {
	a := new(attempts)
	a.eligible = a.check
	return a
}}

func (a *attempts) check(mm Member) bool {
	m := mm.(*member)
	return (a.anyway || m.ejected.Load() <= a.now) && m.serves(a.method) && !slices.Contains(a.tried, m)
}

// pick chooses a master not yet tried that serves the method, preferring
// those not ejected; when every candidate is ejected it takes one anyway
// (better a probe than no call).
func (c *Client) pick(ctx context.Context, a *attempts) *member {
	st := c.state.Load()
	if st.picker == nil {
		return nil
	}
	a.now = time.Now().UnixNano()
	info := PickInfo{Method: a.method, Key: keyOf(ctx), Eligible: a.eligible}
	for _, anyway := range [...]bool{false, true} {
		a.anyway = anyway
		if got, ok := st.picker.Pick(info); ok {
			return got.(*member)
		}
	}
	return nil
}

// account records the outcome of an attempt on m: failures of its
// connections or dials eject it for a while, a success brings it back.
func (c *Client) account(m *member, err error) {
	switch {
	case err == nil:
		m.failures.Store(0)
		m.ejected.Store(0)
		c.refund()
	case errors.Is(err, slave.ErrUnavailable) && !errors.Is(err, slave.ErrShuttingDown),
		errors.Is(err, slave.ErrConnection):
		n := m.failures.Add(1)
		d := c.cfg.EjectBackoff << min(n-1, 16)
		if d <= 0 || d > c.cfg.MaxEjectBackoff {
			d = c.cfg.MaxEjectBackoff
		}
		m.ejected.Store(time.Now().Add(d).UnixNano())
		if r, ok := c.cfg.Resolver.(Refresher); ok {
			r.Refresh()
		}
	case errors.Is(err, slave.ErrShuttingDown):
		// Draining: leave it out at once, without counting a failure.
		m.ejected.Store(time.Now().Add(c.cfg.EjectBackoff).UnixNano())
	case errors.Is(err, slave.ErrUnknownMethod):
		go c.fetchMethods(m) // a rolling deploy: learn again what it serves
	}
}

// retryable reports whether a failed attempt may be made again on another
// master: one that never reached a handler (not sent, an unknown method,
// or a master just removed), or, for idempotent calls, one lost mid-call;
// never one the master answered, and never once ctx has ended.
func (c *Client) retryable(ctx context.Context, err error, idempotent bool) bool {
	if ctx.Err() != nil || c.closed.Load() {
		return false
	}
	switch {
	case notSent(err), errors.Is(err, slave.ErrUnknownMethod):
		return true // (ErrClosed: a master the resolver just removed)
	case idempotent && (errors.Is(err, slave.ErrConnection) || errors.Is(err, slave.ErrProtocol)):
		return true
	}
	return false
}

// notSent reports whether err says nothing reached a handler.
func notSent(err error) bool {
	return errors.Is(err, slave.ErrUnavailable) || errors.Is(err, slave.ErrClosed)
}

// spend takes a token for a retry, and reports whether the budget allows
// it: only while more than half of the tokens are left.
func (c *Client) spend() bool {
	if c.cfg.RetryTokens < 0 {
		return true
	}
	for {
		t := c.tokens.Load()
		if t <= int64(c.cfg.RetryTokens)*1000/2 {
			return false
		}
		if c.tokens.CompareAndSwap(t, t-1000) {
			return true
		}
	}
}

// refund gives back RetryRatio of a token after a success.
func (c *Client) refund() {
	if c.cfg.RetryTokens < 0 {
		return
	}
	limit := int64(c.cfg.RetryTokens) * 1000
	add := int64(c.cfg.RetryRatio * 1000)
	for {
		t := c.tokens.Load()
		if t >= limit {
			return
		}
		if c.tokens.CompareAndSwap(t, min(t+add, limit)) {
			return
		}
	}
}

// String describes the client, for logs.
func (c *Client) String() string {
	return fmt.Sprintf("cluster.Client(%d masters)", len(c.state.Load().members))
}
