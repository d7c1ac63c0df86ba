package typed

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/slave"
)

// Caller is what typed calls go through: *slave.Slave and
// *fastrpc.RpcSlave both satisfy it.
type Caller interface {
	CallAppend(ctx context.Context, method string, req, dst []byte) ([]byte, error)
	Capabilities(ctx context.Context) (frame.Capabilities, error)
}

// CallOption configures Call.
type CallOption func(*callOptions)

type callOptions struct {
	codec codec.Codec
}

// WithCodec makes Call use c for the request and the response instead of
// the codec the master advertises. No capabilities lookup is made for it:
// if the advertised codec is already known (cached by an earlier Call
// without WithCodec) and differs from c, the call fails with
// ErrCodecMismatch before sending; otherwise a wrong codec shows up as the
// master's CodeBadRequest error.
func WithCodec(c codec.Codec) CallOption {
	return func(o *callOptions) { o.codec = c }
}

// Call calls method on s: it encodes req, sends it, and decodes the
// response into a Resp.
//
// The codec is the one the master advertises for method in its
// capabilities, looked up with one capabilities call the first time s
// calls method and cached for s and method afterwards (WithCodec forces
// one instead). Before anything is sent, Call fails with an error
// matching slave.ErrUnknownMethod if the capabilities do not list method,
// and with ErrNoCodec if no codec registered on this slave has the
// advertised encoding.
//
// An application error from the master (the handler's error, or the typed
// layer's CodeBadRequest) is a *Error wrapping the *slave.RemoteError;
// other failures are the raw call's errors (see package slave). A response
// that does not decode is a *DecodeError. For calls on a hot path, NewMethod
// skips the cache lookup.
func Call[Req, Resp any](ctx context.Context, s Caller, method string, req Req, opts ...CallOption) (Resp, error) {
	var zero Resp
	if s == nil {
		return zero, errNilCaller
	}
	var forced codec.Codec
	if len(opts) > 0 {
		forced = applyOptions(opts)
	}
	cs, err := resolve(ctx, s, method, forced)
	if err != nil {
		return zero, err
	}
	resp, err := roundTrip(ctx, s, method, cs, boxesFor[Req](), boxesFor[Resp](), req)
	if err != nil && stale(err) {
		forget(s, method)
	}
	return resp, err
}

// applyOptions is apart from Call so that the options' struct is allocated
// only when there are options.
func applyOptions(opts []CallOption) codec.Codec {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o.codec
}

// Method is a typed stub for one method of one master: its Call skips the
// per-call cache lookup of the package-level Call. It is safe for
// concurrent use.
type Method[Req, Resp any] struct {
	s         Caller
	name      string
	lazy      bool // the codec comes from the capabilities
	codec     atomic.Pointer[codecs]
	reqBoxes  *boxPool[Req]
	respBoxes *boxPool[Resp]
}

// NewMethod returns a stub calling name on s with codec c for the request
// and the response. With c nil the stub uses the codec the master
// advertises, looked up on its first call as Call does.
//
// With c given, nothing is checked against the master's capabilities: a
// codec the master does not use for name fails with the master's
// CodeBadRequest error.
func NewMethod[Req, Resp any](s Caller, name string, c codec.Codec) *Method[Req, Resp] {
	m := &Method[Req, Resp]{s: s, name: name, reqBoxes: boxesFor[Req](), respBoxes: boxesFor[Resp]()}
	if c != nil {
		m.codec.Store(&codecs{in: c, out: c})
	} else {
		m.lazy = true
	}
	return m
}

// Name returns the method's name.
func (m *Method[Req, Resp]) Name() string { return m.name }

// Call calls the method with req and returns the decoded response; errors
// are as for the package-level Call.
func (m *Method[Req, Resp]) Call(ctx context.Context, req Req) (Resp, error) {
	var zero Resp
	if m.s == nil {
		return zero, errNilCaller
	}
	cs := m.codec.Load()
	if cs == nil {
		var err error
		if cs, err = resolve(ctx, m.s, m.name, nil); err != nil {
			return zero, err
		}
		m.codec.Store(cs)
	}
	resp, err := roundTrip(ctx, m.s, m.name, cs, m.reqBoxes, m.respBoxes, req)
	if err != nil && m.lazy && stale(err) {
		m.codec.CompareAndSwap(cs, nil)
	}
	return resp, err
}

// codecs are the codecs of a method's request and response. Methods
// registered with Register use one codec for both; a raw method may
// advertise two different encodings.
type codecs struct {
	in, out codec.Codec
}

func roundTrip[Req, Resp any](ctx context.Context, s Caller, method string, cs *codecs, reqBoxes *boxPool[Req], respBoxes *boxPool[Resp], req Req) (Resp, error) {
	var zero Resp
	bp := getBuffer()
	rb := reqBoxes.get()
	*rb = req
	b, err := cs.in.Append((*bp)[:0], rb)
	reqBoxes.put(rb)
	if err != nil {
		putBuffer(bp)
		return zero, errtext.Errorf("typed: call %q: cannot encode the request (%s) with codec %s: %w",
			method, reflect.TypeFor[Req](), cs.in.Name(), err)
	}
	// The response goes after the request in the same buffer: CallAppend
	// reads it into dst, which does not overlap req.
	n := len(b)
	r, err := s.CallAppend(ctx, method, b, b[n:])
	if cap(r) > cap(b) {
		*bp = r // CallAppend grew a new array; keep the bigger one
	} else {
		*bp = b
	}
	if err != nil {
		putBuffer(bp)
		return zero, fromCall(err)
	}
	pb := respBoxes.get()
	err = cs.out.Unmarshal(r, pb)
	resp := *pb
	respBoxes.put(pb)
	putBuffer(bp)
	if err != nil {
		return zero, &DecodeError{Method: method, Codec: cs.out.Name(), Type: reflect.TypeFor[Resp]().String(), What: "response", Err: err}
	}
	return resp, nil
}

// The codec cache maps (Caller, method) to the codecs the master
// advertised. Readers load an immutable map with no lock and no
// allocation; writers copy it. It holds at most maxCached entries and
// starts afresh when full, so Callers that come and go do not accumulate.
const maxCached = 4096

type cacheKey struct {
	s      Caller
	method string
}

var (
	cacheMu sync.Mutex // serialises writers
	cache   atomic.Pointer[map[cacheKey]*codecs]
)

// cacheable reports whether s can be a map key: any pointer can, and
// values whose dynamic type is comparable.
func cacheable(s Caller) bool {
	v := reflect.ValueOf(s)
	return v.Kind() == reflect.Pointer || v.Comparable()
}

func cacheLoad(s Caller, method string) *codecs {
	if m := cache.Load(); m != nil {
		return (*m)[cacheKey{s, method}]
	}
	return nil
}

func cacheStore(s Caller, method string, cs *codecs) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	old := cache.Load()
	var m map[cacheKey]*codecs
	if old == nil || len(*old) >= maxCached {
		m = make(map[cacheKey]*codecs)
	} else {
		m = make(map[cacheKey]*codecs, len(*old)+1)
		for k, v := range *old {
			m[k] = v
		}
	}
	m[cacheKey{s, method}] = cs
	cache.Store(&m)
}

// forget drops the cached codecs of s and method, so that the next Call
// asks the master again (see stale).
func forget(s Caller, method string) {
	if !cacheable(s) || cacheLoad(s, method) == nil {
		return
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	old := cache.Load()
	m := make(map[cacheKey]*codecs, len(*old))
	for k, v := range *old {
		m[k] = v
	}
	delete(m, cacheKey{s, method})
	cache.Store(&m)
}

// stale reports whether err suggests the master changed the method's
// codec, or dropped the method, since its codec was looked up.
func stale(err error) bool {
	var te *Error
	var de *DecodeError
	return errors.As(err, &te) && te.AppCode == CodeBadRequest ||
		errors.As(err, &de) ||
		errors.Is(err, slave.ErrUnknownMethod)
}

// resolve returns the codecs for method: forced for both if given (checked
// against the cache), else the cached ones, else those the master
// advertises.
func resolve(ctx context.Context, s Caller, method string, forced codec.Codec) (*codecs, error) {
	canCache := cacheable(s)
	var cached *codecs
	if canCache {
		cached = cacheLoad(s, method)
	}
	if forced != nil {
		if cached != nil && (cached.in.Name() != forced.Name() || cached.out.Name() != forced.Name()) {
			return nil, errtext.Errorf("typed: call %q: %w: WithCodec(%s), but the master advertises %s for the request and %s for the response; nothing was sent",
				method, ErrCodecMismatch, forced.Name(), cached.in.Name(), cached.out.Name())
		}
		return &codecs{in: forced, out: forced}, nil
	}
	if cached != nil {
		return cached, nil
	}
	caps, err := s.Capabilities(ctx)
	if err != nil {
		return nil, errtext.Errorf("typed: call %q: looking up its codec in the master's capabilities: %w", method, err)
	}
	for _, c := range caps.Methods {
		if c.Name != method {
			continue
		}
		in, err := lookup(method, "request", c.IncomingEncoding)
		if err != nil {
			return nil, err
		}
		out, err := lookup(method, "response", c.ReturningEncoding)
		if err != nil {
			return nil, err
		}
		cs := &codecs{in: in, out: out}
		if canCache {
			cacheStore(s, method, cs)
		}
		return cs, nil
	}
	return nil, errtext.Errorf("typed: call %q: %w: the master's capabilities do not list it; nothing was sent", method, slave.ErrUnknownMethod)
}

func lookup(method, what, encoding string) (codec.Codec, error) {
	if encoding == "" {
		return nil, errtext.Errorf("typed: call %q: %w: the master advertises no %s encoding for it (a raw method?); pass typed.WithCodec; nothing was sent",
			method, ErrNoCodec, what)
	}
	c, err := codec.Lookup(encoding)
	if err != nil {
		return nil, errtext.Errorf("typed: call %q: %w: the master encodes the %s with %q, which this slave does not have; nothing was sent: %w",
			method, ErrNoCodec, what, encoding, err)
	}
	return c, nil
}
