package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"

	fastrpc "github.com/AmanTrance/FastRpc"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/slave"
)

// FastRpc raw: a master whose "echo" handler reads the request into a
// pooled buffer and sends it back (a handler that reuses its buffers, as
// the floor does), and a slave with one pooled connection per caller,
// calling CallAppend into the caller's reused buffer.

// FastRpcName is the raw FastRpc row.
const FastRpcName = "fastrpc"

func fastrpcSystem() System {
	return System{
		Name:      FastRpcName,
		Serve:     func() (Server, error) { return serveFastRpc(nil) },
		Dial:      dialFastRpc,
		Stream:    streamFastRpc,
		StreamHow: "CallStream from the pattern source; the handler sinks the request with IOOperator.WriteTo(io.Discard)",
		Conns:     "one slave, PoolSize = callers",
	}
}

// FastRpcMetadataName is the raw row whose calls each carry two metadata
// pairs (protocol version 2): the same master, handler and slave as
// fastrpc, so the difference between the two rows is the metadata's cost.
const FastRpcMetadataName = FastRpcName + "-metadata"

// MetadataPairs are the keys and values every call of the metadata row
// carries, as a caller sending a token and a request ID would.
var MetadataPairs = []string{"authorization", "Bearer abc123", "x-request-id", "req-42"}

func fastrpcMetadataSystem() System {
	return System{
		Name:      FastRpcMetadataName,
		Serve:     func() (Server, error) { return serveFastRpc(nil) },
		Dial:      dialFastRpcMetadata,
		StreamHow: "n/a: metadata is per call, not per byte; see fastrpc",
		Conns:     "one slave, PoolSize = callers; each caller's context carries the two pairs, built once at dial (metadata.AppendToOutgoingContext)",
	}
}

var echoBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// EchoHandler is the buffer-reusing echo handler.
func EchoHandler(op *master.IOOperator) error {
	bp := echoBuffers.Get().(*[]byte)
	defer echoBuffers.Put(bp)
	b := grow(*bp, int(op.ReadDataLeft()))
	*bp = b
	if _, err := io.ReadFull(op, b); err != nil {
		return err
	}
	return op.WriteIOFromBuffer(b)
}

// sinkHandler drops the request as it streams in and answers with the
// number of bytes it read.
func sinkHandler(op *master.IOOperator) error {
	n, err := op.WriteTo(io.Discard)
	if err != nil {
		return err
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return op.WriteIOFromBuffer(b[:])
}

type fastrpcServer struct {
	m    *master.Master
	addr string
	done chan struct{}
}

// serveFastRpc starts a master with echo and sink, plus whatever register
// adds (the typed methods).
func serveFastRpc(register func(*master.Master) error) (Server, error) {
	m := master.New(master.Config{MaxRequestSize: -1})
	if err := m.Register("echo", master.MethodInfo{}, EchoHandler); err != nil {
		return nil, err
	}
	if err := m.Register("sink", master.MethodInfo{}, sinkHandler); err != nil {
		return nil, err
	}
	if register != nil {
		if err := register(m); err != nil {
			return nil, err
		}
	}
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	s := &fastrpcServer{m: m, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = m.Serve(context.Background(), ln)
	}()
	return s, nil
}

func (s *fastrpcServer) Addr() string { return s.addr }

func (s *fastrpcServer) Close() error {
	err := s.m.Close()
	<-s.done
	return err
}

func dialSlave(addr string, callers int) (*slave.Slave, error) {
	return slave.Dial(context.Background(), slave.Config{Address: addr, PoolSize: callers, MaxRequestSize: -1, MaxResponseSize: -1})
}

type fastrpcCaller struct{ s *slave.Slave }

func (c fastrpcCaller) Echo(req, dst []byte) ([]byte, error) {
	return c.s.CallAppend(context.Background(), "echo", req, dst)
}

func dialFastRpc(addr string, callers int) (Client, error) {
	s, err := dialSlave(addr, callers)
	if err != nil {
		return nil, err
	}
	return shared{c: fastrpcCaller{s}, close: s.Close}, nil
}

// fastrpcMDCaller calls with a context carrying MetadataPairs; the echo
// handler ignores them, but the master parses every call's block (into
// IOOperator.Metadata) before the handler runs.
type fastrpcMDCaller struct {
	s   *slave.Slave
	ctx context.Context
}

func (c *fastrpcMDCaller) Echo(req, dst []byte) ([]byte, error) {
	return c.s.CallAppend(c.ctx, "echo", req, dst)
}

// fastrpcMDClient is one slave shared by all callers, each with its own
// context.
type fastrpcMDClient struct {
	s       *slave.Slave
	callers []*fastrpcMDCaller
}

func (c fastrpcMDClient) Caller(i int) Caller { return c.callers[i] }
func (c fastrpcMDClient) Close() error        { return c.s.Close() }

func dialFastRpcMetadata(addr string, callers int) (Client, error) {
	s, err := dialSlave(addr, callers)
	if err != nil {
		return nil, err
	}
	cl := fastrpcMDClient{s: s, callers: make([]*fastrpcMDCaller, callers)}
	for i := range cl.callers {
		ctx := metadata.AppendToOutgoingContext(context.Background(), MetadataPairs...)
		cl.callers[i] = &fastrpcMDCaller{s: s, ctx: ctx}
	}
	return cl, nil
}

// ForBuffer returns a Caller using the root package's
// RpcSlave.CallForBuffer (a new slice per call), for the allocation check.
func ForBuffer(cl Client) (Caller, bool) {
	sh, ok := cl.(shared)
	if !ok {
		return nil, false
	}
	fc, ok := sh.c.(fastrpcCaller)
	if !ok {
		return nil, false
	}
	return forBufferCaller{&fastrpc.RpcSlave{Slave: fc.s}}, true
}

type forBufferCaller struct{ s *fastrpc.RpcSlave }

func (c forBufferCaller) Echo(req, dst []byte) ([]byte, error) {
	b, err := c.s.CallForBuffer("echo", req)
	return append(dst, b...), err
}

type countWriter struct{ b []byte }

func (w *countWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func streamFastRpc(addr string, size int64) (int64, error) {
	s, err := dialSlave(addr, 1)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	var w countWriter
	if _, err := s.CallStream(context.Background(), "sink", NewSource(size), size, &w); err != nil {
		return 0, err
	}
	if len(w.b) != 8 {
		return 0, errors.New("fastrpc: bad sink answer")
	}
	return int64(binary.BigEndian.Uint64(w.b)), nil
}
