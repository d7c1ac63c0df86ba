package bench

import (
	"errors"
	"io"
	"net"
	"net/rpc"
	"sync"
)

// net/rpc from the standard library, with its default gob codec. One
// *rpc.Client is shared by all callers: it pipelines calls on one
// connection, as net/rpc is used. It has no streaming form.

// EchoService is the net/rpc receiver.
type EchoService struct{}

// Echo returns its argument.
func (EchoService) Echo(req []byte, resp *[]byte) error {
	*resp = req
	return nil
}

type netrpcServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func serveNetRPC() (Server, error) {
	srv := rpc.NewServer()
	if err := srv.RegisterName("Bench", EchoService{}); err != nil {
		return nil, err
	}
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	s := &netrpcServer{ln: ln}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, nc)
			s.mu.Unlock()
			go srv.ServeConn(nc)
		}
	}()
	return s, nil
}

func (s *netrpcServer) Addr() string { return s.ln.Addr().String() }

func (s *netrpcServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	return err
}

type netrpcCaller struct{ c *rpc.Client }

func (c netrpcCaller) Echo(req, dst []byte) ([]byte, error) {
	resp := dst[len(dst):]
	if err := c.c.Call("Bench.Echo", req, &resp); err != nil {
		return dst, err
	}
	if len(dst) == 0 {
		return resp, nil
	}
	return append(dst, resp...), nil
}

func netrpcSystem() System {
	return System{
		Name:  "net/rpc",
		Serve: serveNetRPC,
		Dial: func(addr string, _ int) (Client, error) {
			c, err := rpc.Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			return shared{c: netrpcCaller{c}, close: c.Close}, nil
		},
		StreamHow: "n/a: net/rpc has no streaming form",
		Conns:     "one *rpc.Client (calls pipelined on one connection)",
	}
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
