package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"storj.io/drpc"
	"storj.io/drpc/drpcconn"
	"storj.io/drpc/drpcmux"
	"storj.io/drpc/drpcserver"
)

// storj drpc with a raw-bytes Encoding and a hand-written Description (no
// protobuf code generation). A drpc connection carries one call at a time,
// so each caller has its own connection, as with the floor.

// rawMsg is the drpc message: the bytes themselves.
type rawMsg struct{ b []byte }

type rawEncoding struct{}

func (rawEncoding) Marshal(msg drpc.Message) ([]byte, error) {
	return msg.(*rawMsg).b, nil
}

// MarshalAppend is used by drpc instead of Marshal when present.
func (rawEncoding) MarshalAppend(buf []byte, msg drpc.Message) ([]byte, error) {
	return append(buf, msg.(*rawMsg).b...), nil
}

func (rawEncoding) Unmarshal(buf []byte, msg drpc.Message) error {
	m, ok := msg.(*rawMsg)
	if !ok {
		return fmt.Errorf("raw encoding: cannot unmarshal into %T", msg)
	}
	m.b = append(m.b[:0], buf...)
	return nil
}

const (
	drpcEcho = "/bench.Bench/Echo"
	drpcSink = "/bench.Bench/Sink"
)

type drpcImpl struct{}

func (drpcImpl) Echo(_ context.Context, in *rawMsg) (*rawMsg, error) { return in, nil }

func (drpcImpl) Sink(stream drpc.Stream) error {
	var m rawMsg
	var n uint64
	for {
		if err := stream.MsgRecv(&m, rawEncoding{}); err != nil {
			if errors.Is(err, context.Canceled) || isEOF(err) {
				break
			}
			return err
		}
		n += uint64(len(m.b))
	}
	out := &rawMsg{b: make([]byte, 8)}
	binary.BigEndian.PutUint64(out.b, n)
	return stream.MsgSend(out, rawEncoding{})
}

type drpcDesc struct{}

func (drpcDesc) NumMethods() int { return 2 }

func (drpcDesc) Method(n int) (string, drpc.Encoding, drpc.Receiver, any, bool) {
	switch n {
	case 0:
		return drpcEcho, rawEncoding{}, func(srv any, ctx context.Context, in1, _ any) (drpc.Message, error) {
			return srv.(drpcImpl).Echo(ctx, in1.(*rawMsg))
		}, drpcImpl.Echo, true
	case 1:
		return drpcSink, rawEncoding{}, func(srv any, _ context.Context, in1, _ any) (drpc.Message, error) {
			return nil, srv.(drpcImpl).Sink(in1.(drpc.Stream))
		}, drpcImpl.Sink, true
	}
	return "", nil, nil, nil, false
}

type drpcServer struct {
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

func serveDRPC() (Server, error) {
	mux := drpcmux.New()
	if err := mux.Register(drpcImpl{}, drpcDesc{}); err != nil {
		return nil, err
	}
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &drpcServer{ln: ln, cancel: cancel, done: make(chan struct{})}
	srv := drpcserver.New(mux)
	go func() {
		defer close(s.done)
		_ = srv.Serve(ctx, ln)
	}()
	return s, nil
}

func (s *drpcServer) Addr() string { return s.ln.Addr().String() }

func (s *drpcServer) Close() error {
	s.cancel()
	<-s.done
	return nil
}

type drpcCaller struct {
	c  *drpcconn.Conn
	in rawMsg
	// out is reused: Unmarshal appends into its buffer.
	out rawMsg
}

func dialDRPC(addr string) (*drpcCaller, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &drpcCaller{c: drpcconn.New(nc)}, nil
}

func (c *drpcCaller) Close() error { return c.c.Close() }

func (c *drpcCaller) Echo(req, dst []byte) ([]byte, error) {
	c.in.b = req
	c.out.b = dst[len(dst):]
	err := c.c.Invoke(context.Background(), drpcEcho, rawEncoding{}, &c.in, &c.out)
	c.in.b = nil
	if err != nil {
		return dst, err
	}
	if len(dst) == 0 {
		return c.out.b, nil
	}
	return append(dst, c.out.b...), nil
}

func drpcSystem() System {
	return System{
		Name:  "drpc",
		Serve: serveDRPC,
		Dial: func(addr string, callers int) (Client, error) {
			return dialEach(callers, func() (*drpcCaller, error) { return dialDRPC(addr) })
		},
		Stream:    streamDRPC,
		StreamHow: "client stream of 64 KiB messages, the server counts and drops them",
		Conns:     "one connection per caller (drpc carries one call at a time per connection)",
	}
}

func streamDRPC(addr string, size int64) (int64, error) {
	c, err := dialDRPC(addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	st, err := c.c.NewStream(context.Background(), drpcSink, rawEncoding{})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	src := NewSource(size)
	m := rawMsg{b: make([]byte, ChunkSize)}
	for left := size; left > 0; {
		n := int(min(left, ChunkSize))
		m.b = m.b[:n]
		_, _ = src.Read(m.b)
		if err := st.MsgSend(&m, rawEncoding{}); err != nil {
			return 0, err
		}
		left -= int64(n)
	}
	if err := st.CloseSend(); err != nil {
		return 0, err
	}
	var out rawMsg
	if err := st.MsgRecv(&out, rawEncoding{}); err != nil {
		return 0, err
	}
	if len(out.b) != 8 {
		return 0, errors.New("drpc: bad sink answer")
	}
	return int64(binary.BigEndian.Uint64(out.b)), nil
}
