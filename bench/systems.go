// Package bench runs the same echo workloads against FastRpc and the
// systems its users would otherwise pick: a plain length-prefixed TCP echo
// (the floor, no framework at all), gRPC-go unary with a raw-bytes codec,
// storj drpc with a raw-bytes encoding, net/rpc, and HTTP/1.1 with JSON.
//
// It is its own module so that the library's users never download the
// peers. The command cmd/rpcbench runs the workloads and prints the table;
// peers_bench_test.go has the same 32-byte echo as go test benchmarks for
// benchstat.
//
// Every server listens on 127.0.0.1 port 0 and nothing else is ever dialled.
package bench

import (
	"fmt"
	"io"
	"net"
	"slices"
)

// Caller makes echo calls; one goroutine uses a Caller at a time.
type Caller interface {
	// Echo sends req and appends the response to dst.
	Echo(req, dst []byte) ([]byte, error)
}

// Client holds the connections of one system's callers.
type Client interface {
	// Caller returns the handle caller i (0 <= i < callers given to Dial)
	// uses. Systems that multiplex or pool share one handle; systems that
	// carry one call at a time per connection give each caller its own.
	Caller(i int) Caller
	Close() error
}

// Server is one system's server, listening on loopback in this process.
type Server interface {
	Addr() string
	Close() error
}

// System is one contender.
type System struct {
	// Name is the row's label in the table.
	Name string
	// Serve starts the server on 127.0.0.1:0.
	Serve func() (Server, error)
	// Dial connects a client for callers concurrent callers.
	Dial func(addr string, callers int) (Client, error)
	// Stream sends size bytes from a pattern source in one streamed call
	// and returns the byte count the server reports having received. Nil
	// when the system cannot stream a payload of any size in one call.
	Stream func(addr string, size int64) (int64, error)
	// StreamHow says how Stream is done, or why there is none.
	StreamHow string
	// Conns says how the system's connections are used by many callers.
	Conns string
}

// Floor is the name of the reference system, and Control of its copy.
const (
	Floor   = "tcp-floor"
	Control = "tcp-control"
)

// Systems returns every system, the floor first.
func Systems() []System {
	s := []System{floorSystem(Floor), floorSystem(Control), fastrpcSystem(), fastrpcMetadataSystem()}
	s = append(s, typedSystems()...)
	s = append(s, grpcSystem(), drpcSystem(), netrpcSystem(), httpJSONSystem())
	return s
}

// Lookup returns the system called name.
func Lookup(name string) (System, error) {
	for _, s := range Systems() {
		if s.Name == name {
			return s, nil
		}
	}
	return System{}, fmt.Errorf("bench: no system %q", name)
}

// TypedNote is set when the typed layer is left out of the build.
var TypedNote string

// listen opens a loopback listener on a free port.
func listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// ChunkSize is the message size streamed transfers use where the system
// sends messages (gRPC, drpc), and the floor's write size.
const ChunkSize = 64 << 10

// pattern is the bytes every source repeats.
var pattern = func() []byte {
	b := make([]byte, ChunkSize)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

// Source is an io.Reader of n pattern bytes that holds nothing but its
// position, so a 1 GiB transfer costs no memory at the sender.
type Source struct {
	left int64
	off  int
}

// NewSource returns a Source of n bytes.
func NewSource(n int64) *Source { return &Source{left: n} }

func (s *Source) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], pattern[s.off:])
		n += k
		s.off = (s.off + k) % len(pattern)
	}
	s.left -= int64(n)
	return n, nil
}

// Payload returns n bytes of the pattern, for requests.
func Payload(n int) []byte {
	b := make([]byte, n)
	_, _ = NewSource(int64(n)).Read(b)
	return b
}

// grow returns b[:n], reallocating only when n exceeds its capacity.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return slices.Grow(b[:0], n)[:n]
	}
	return b[:n]
}

// shared is a Client whose callers all use one handle.
type shared struct {
	c     Caller
	close func() error
}

func (s shared) Caller(int) Caller { return s.c }
func (s shared) Close() error      { return s.close() }

// perCaller is a Client with one handle (and connection) per caller.
type perCaller[C interface {
	Caller
	Close() error
}] []C

func (p perCaller[C]) Caller(i int) Caller { return p[i] }

func (p perCaller[C]) Close() error {
	var first error
	for _, c := range p {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// dialEach builds a perCaller client, closing what it opened on failure.
func dialEach[C interface {
	Caller
	Close() error
}](callers int, dial func() (C, error)) (Client, error) {
	p := make(perCaller[C], 0, callers)
	for range callers {
		c, err := dial()
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		p = append(p, c)
	}
	return p, nil
}
