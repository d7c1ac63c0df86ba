//go:build !notyped

package bench

import (
	"context"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/typed"
)

// The typed rows: the same master and slave, with an "echo" method
// registered through typed.Register for one codec and called through a
// typed.NewMethod stub. The value is a struct holding the payload bytes,
// so each call encodes and decodes it on both ends (decoding allocates the
// bytes, as a typed API must: decoded values never alias the wire).
//
// This file is the adapter between the suite and package typed; build with
// -tags notyped to leave the typed rows out (typed_stub.go).

// Msg is the typed echo's request and response.
type Msg struct {
	Data []byte `json:"data"`
}

func typedSystems() []System {
	return []System{typedSystem(codec.Msgpack), typedSystem(codec.CBOR)}
}

func typedSystem(c codec.Codec) System {
	return System{
		Name: FastRpcName + "-typed-" + c.Name(),
		Serve: func() (Server, error) {
			return serveFastRpc(func(m *master.Master) error {
				return typed.Register(m, "typed", c, func(_ context.Context, req Msg) (Msg, error) { return req, nil })
			})
		},
		Dial: func(addr string, callers int) (Client, error) {
			s, err := dialSlave(addr, callers)
			if err != nil {
				return nil, err
			}
			return shared{c: typedCaller{typed.NewMethod[Msg, Msg](s, "typed", c)}, close: s.Close}, nil
		},
		StreamHow: "n/a: the typed layer holds values in memory whole (use the raw CallStream)",
		Conns:     "one slave, PoolSize = callers",
	}
}

type typedCaller struct{ m *typed.Method[Msg, Msg] }

func (c typedCaller) Echo(req, dst []byte) ([]byte, error) {
	resp, err := c.m.Call(context.Background(), Msg{Data: req})
	return append(dst, resp.Data...), err
}
