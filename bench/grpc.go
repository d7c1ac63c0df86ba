package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// gRPC-go with a raw-bytes codec (no protobuf, so only the transport is
// compared) and a hand-written ServiceDesc: a unary Echo, and a
// client-streaming Sink for the streamed transfer. All callers share one
// ClientConn, gRPC's normal use: HTTP/2 multiplexes them on one
// connection. Everything else is gRPC's defaults.

// rawCodec passes []byte through. Marshal does not copy: the unary caller
// does not touch its request until the call returns, and the streaming
// client hands over pooled mem.Buffers. Unmarshal copies into the *[]byte
// it is given, reusing its capacity.
type rawCodec struct{}

func (rawCodec) Name() string { return "raw" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case []byte:
		return mem.BufferSlice{mem.SliceBuffer(m)}, nil
	case *[]byte:
		return mem.BufferSlice{mem.SliceBuffer(*m)}, nil
	case mem.BufferSlice:
		return m, nil
	}
	return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	*p = grow(*p, data.Len())
	data.CopyTo(*p)
	return nil
}

func init() { encoding.RegisterCodecV2(rawCodec{}) }

const (
	grpcEcho = "/bench.Bench/Echo"
	grpcSink = "/bench.Bench/Sink"
)

// benchService is the (empty) handler type of the ServiceDesc.
type benchService interface{}

var grpcDesc = grpc.ServiceDesc{
	ServiceName: "bench.Bench",
	HandlerType: (*benchService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var b []byte
			if err := dec(&b); err != nil {
				return nil, err
			}
			return b, nil
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Sink",
		ClientStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			var b []byte
			var n uint64
			for {
				if err := stream.RecvMsg(&b); err != nil {
					if errors.Is(err, io.EOF) {
						break
					}
					return err
				}
				n += uint64(len(b))
			}
			out := make([]byte, 8)
			binary.BigEndian.PutUint64(out, n)
			return stream.SendMsg(out)
		},
	}},
}

type grpcServer struct {
	s    *grpc.Server
	addr string
}

func serveGRPC() (Server, error) {
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	s := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}))
	s.RegisterService(&grpcDesc, struct{}{})
	go func() { _ = s.Serve(ln) }()
	return &grpcServer{s: s, addr: ln.Addr().String()}, nil
}

func (s *grpcServer) Addr() string { return s.addr }
func (s *grpcServer) Close() error { s.s.Stop(); return nil }

func dialGRPC(addr string) (*grpc.ClientConn, error) {
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		return nil, err
	}
	cc.Connect()
	return cc, nil
}

type grpcCaller struct{ cc *grpc.ClientConn }

func (c grpcCaller) Echo(req, dst []byte) ([]byte, error) {
	resp := dst[len(dst):]
	if err := c.cc.Invoke(context.Background(), grpcEcho, req, &resp); err != nil {
		return dst, err
	}
	if len(dst) == 0 {
		return resp, nil
	}
	return append(dst, resp...), nil
}

func grpcSystem() System {
	return System{
		Name:  "grpc",
		Serve: serveGRPC,
		Dial: func(addr string, _ int) (Client, error) {
			cc, err := dialGRPC(addr)
			if err != nil {
				return nil, err
			}
			return shared{c: grpcCaller{cc}, close: cc.Close}, nil
		},
		Stream:    streamGRPC,
		StreamHow: "client-streaming RPC of 64 KiB messages (pooled mem.Buffers), the server counts and drops them",
		Conns:     "one ClientConn (HTTP/2 multiplexed)",
	}
}

func streamGRPC(addr string, size int64) (int64, error) {
	cc, err := dialGRPC(addr)
	if err != nil {
		return 0, err
	}
	defer cc.Close()
	cs, err := cc.NewStream(context.Background(), &grpcDesc.Streams[0], grpcSink)
	if err != nil {
		return 0, err
	}
	src := NewSource(size)
	pool := mem.DefaultBufferPool()
	for left := size; left > 0; {
		n := int(min(left, ChunkSize))
		bp := pool.Get(n)
		_, _ = src.Read(*bp)
		if err := cs.SendMsg(mem.BufferSlice{mem.NewBuffer(bp, pool)}); err != nil {
			return 0, err
		}
		left -= int64(n)
	}
	if err := cs.CloseSend(); err != nil {
		return 0, err
	}
	var out []byte
	if err := cs.RecvMsg(&out); err != nil {
		return 0, err
	}
	if len(out) != 8 {
		return 0, errors.New("grpc: bad sink answer")
	}
	return int64(binary.BigEndian.Uint64(out)), nil
}
