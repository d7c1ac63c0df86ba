package typed_test

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/typed"
)

type Point struct {
	X, Y float64
}

type Segment struct {
	From, To Point
}

// startExample serves m on loopback and returns a slave for it.
func startExample(ctx context.Context, m *master.Master) *slave.Slave {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() { _ = m.Serve(ctx, ln) }()
	s, err := slave.Dial(ctx, slave.Config{Address: ln.Addr().String()})
	if err != nil {
		panic(err)
	}
	return s
}

func ExampleRegister() {
	m := master.New(master.Config{})
	defer m.Close()
	err := typed.Register(m, "midpoint", codec.Msgpack, func(ctx context.Context, s Segment) (Point, error) {
		return Point{X: (s.From.X + s.To.X) / 2, Y: (s.From.Y + s.To.Y) / 2}, nil
	}, typed.WithDescription("the middle of a segment"))
	if err != nil {
		panic(err)
	}
	for _, c := range m.Capabilities() {
		if c.Name == "midpoint" {
			fmt.Printf("%s: %q, %s in, %s out\n", c.Name, c.Description, c.IncomingEncoding, c.ReturningEncoding)
		}
	}
	// Output: midpoint: "typed_test.Segment -> typed_test.Point: the middle of a segment", msgpack in, msgpack out
}

func ExampleCall() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := master.New(master.Config{})
	_ = typed.Register(m, "midpoint", codec.CBOR, func(ctx context.Context, s Segment) (Point, error) {
		return Point{X: (s.From.X + s.To.X) / 2, Y: (s.From.Y + s.To.Y) / 2}, nil
	})
	_ = typed.Register(m, "lookup", codec.JSON, func(ctx context.Context, id int) (string, error) {
		return "", typed.Errorf(404, "no user %d", id)
	})
	s := startExample(ctx, m)
	defer s.Close()

	// The codec is the one the master advertises (cbor), found once.
	mid, err := typed.Call[Segment, Point](ctx, s, "midpoint", Segment{To: Point{X: 4, Y: 2}})
	fmt.Println(mid, err)

	// A handler's *typed.Error arrives with its code.
	_, err = typed.Call[int, string](ctx, s, "lookup", 7)
	var te *typed.Error
	if errors.As(err, &te) {
		fmt.Println(te.Code(), te.Message, errors.Is(err, slave.ErrApplication))
	}

	// A method the master does not have fails before anything is sent.
	_, err = typed.Call[int, string](ctx, s, "nope", 1)
	fmt.Println(errors.Is(err, slave.ErrUnknownMethod))
	// Output:
	// {2 1} <nil>
	// 404 no user 7 true
	// true
}

func ExampleNewMethod() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := master.New(master.Config{})
	_ = typed.Register(m, "scale", codec.Msgpack, func(ctx context.Context, p Point) (Point, error) {
		return Point{X: p.X * 10, Y: p.Y * 10}, nil
	})
	s := startExample(ctx, m)
	defer s.Close()

	// A stub made once and used on a hot path: no lookup per call.
	scale := typed.NewMethod[Point, Point](s, "scale", codec.Msgpack)
	for i := 1; i <= 3; i++ {
		p, err := scale.Call(ctx, Point{X: float64(i), Y: -float64(i)})
		if err != nil {
			panic(err)
		}
		fmt.Println(p)
	}
	// Output:
	// {10 -10}
	// {20 -20}
	// {30 -30}
}
