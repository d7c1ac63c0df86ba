package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/typed"
)

// The demo master's methods: one of each kind, to try the tool and the
// library on. The codec methods are registered with package typed, so
// their capabilities advertise the codec and "fastrpc call" speaks JSON to
// them.

// codeBadInput is the application error code the demo methods answer
// input they refuse with.
const codeBadInput = 400

type (
	// AddRequest is add's request (msgpack).
	AddRequest struct {
		A int64 `json:"a"`
		B int64 `json:"b"`
	}
	// AddResponse is add's response.
	AddResponse struct {
		Sum int64 `json:"sum"`
	}
	// StatsRequest is stats' request (cbor).
	StatsRequest struct {
		Values []float64 `json:"values"`
	}
	// StatsResponse is stats' response.
	StatsResponse struct {
		Count int     `json:"count"`
		Sum   float64 `json:"sum"`
		Mean  float64 `json:"mean"`
		Min   float64 `json:"min"`
		Max   float64 `json:"max"`
	}
	// GreetRequest is greet's request (json).
	GreetRequest struct {
		Name string `json:"name"`
	}
	// GreetResponse is greet's response.
	GreetResponse struct {
		Greeting string `json:"greeting"`
	}
)

const (
	defaultSlow   = 5 * time.Second
	maxSlow       = time.Hour
	defaultStream = 1 << 20
	maxStream     = 64 << 30
)

// registerDemo registers the demo methods on m.
func registerDemo(m *master.Master) error {
	return errors.Join(
		m.Register("echo", master.MethodInfo{
			Description:    "answers its request unchanged, streamed: any size, bounded memory",
			MaxRequestSize: -1,
		}, echo),
		typed.Register(m, "add", codec.Msgpack, add,
			typed.WithDescription(`adds a and b: {"a": 1, "b": 2} -> {"sum": 3}`)),
		typed.Register(m, "stats", codec.CBOR, stats,
			typed.WithDescription(`count, sum, mean, min and max of values: {"values": [1, 2.5, 4]}`)),
		typed.Register(m, "greet", codec.JSON, greet,
			typed.WithDescription(`{"name": "Ada"} -> {"greeting": "hello, Ada"}; an empty name is an error with code 400`)),
		m.Register("slow", master.MethodInfo{
			Description: "answers after the duration its request names (such as 2s; default 5s), or gives up at its deadline",
		}, slow),
		m.Register("stream", master.MethodInfo{
			Description: "answers as many bytes as its request names (such as 65536, 64KiB, 16MiB, 1GiB; default 1MiB), streamed",
		}, stream),
		m.Register("sha256", master.MethodInfo{
			Description:    "answers the hex SHA-256 of its request, read as a stream: any size, bounded memory",
			MaxRequestSize: -1,
		}, checksum),
	)
}

func echo(op *master.IOOperator) error {
	return op.WriteIOFromReader(op, int(op.ReadDataLeft()), 0)
}

func add(_ context.Context, r AddRequest) (AddResponse, error) {
	sum := r.A + r.B
	if (sum > r.A) != (r.B > 0) {
		return AddResponse{}, typed.Errorf(codeBadInput, "%d + %d overflows a 64-bit integer", r.A, r.B)
	}
	return AddResponse{Sum: sum}, nil
}

func stats(_ context.Context, r StatsRequest) (StatsResponse, error) {
	if len(r.Values) == 0 {
		return StatsResponse{}, typed.Errorf(codeBadInput, "values is empty")
	}
	s := StatsResponse{Count: len(r.Values), Min: math.Inf(1), Max: math.Inf(-1)}
	for _, v := range r.Values {
		s.Sum += v
		s.Min = min(s.Min, v)
		s.Max = max(s.Max, v)
	}
	s.Mean = s.Sum / float64(s.Count)
	return s, nil
}

func greet(_ context.Context, r GreetRequest) (GreetResponse, error) {
	if strings.TrimSpace(r.Name) == "" {
		return GreetResponse{}, typed.Errorf(codeBadInput, "name is empty")
	}
	return GreetResponse{Greeting: "hello, " + r.Name}, nil
}

// slowStarted, when set (by tests, before the master starts), is called
// as each slow call starts waiting.
var slowStarted func()

func slow(op *master.IOOperator) error {
	arg, err := smallArg(op)
	if err != nil {
		return err
	}
	if slowStarted != nil {
		slowStarted()
	}
	d := defaultSlow
	if arg != "" {
		if d, err = time.ParseDuration(arg); err != nil || d < 0 || d > maxSlow {
			return master.WithCode(fmt.Errorf("want a duration from 0s to %v such as 2s or 500ms, got %q", maxSlow, arg), codeBadInput)
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	ctx := op.Context()
	select {
	case <-t.C:
		return op.WriteIOFromBuffer([]byte("waited " + d.String() + "\n"))
	case <-ctx.Done():
		return ctx.Err()
	}
}

func stream(op *master.IOOperator) error {
	arg, err := smallArg(op)
	if err != nil {
		return err
	}
	n := int64(defaultStream)
	if arg != "" {
		if n, err = parseSize(arg); err != nil || n > maxStream {
			return master.WithCode(fmt.Errorf("want a size from 0 to 64GiB such as 65536, 64KiB or 16MiB, got %q", arg), codeBadInput)
		}
	}
	return op.WriteIOFromReader(io.LimitReader(&pattern{}, n), int(n), 64<<10)
}

func checksum(op *master.IOOperator) error {
	h := sha256.New()
	if _, err := op.WriteTo(h); err != nil {
		return err
	}
	return op.WriteIOFromBuffer([]byte(hex.EncodeToString(h.Sum(nil)) + "\n"))
}

// smallArg reads a request that is a short text argument.
func smallArg(op *master.IOOperator) (string, error) {
	if op.ReadDataLeft() > 64 {
		return "", master.WithCode(fmt.Errorf("the request is %d bytes; want a short argument", op.ReadDataLeft()), codeBadInput)
	}
	b, err := op.ReadAll()
	return strings.TrimSpace(string(b)), err
}

// parseSize reads a byte count: digits, optionally followed by KiB, MiB or
// GiB (or K, M, G, with or without a trailing B, all powers of 1024).
func parseSize(s string) (int64, error) {
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToUpper(strings.TrimSpace(s[len(num):]))
	shift := map[string]uint{"": 0, "B": 0, "K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20, "G": 30, "GB": 30, "GIB": 30}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>sh {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n << sh, nil
}

// pattern is an endless deterministic byte stream: the demo's data.
type pattern struct{ off int64 }

func (r *pattern) Read(p []byte) (int, error) {
	for i := range p {
		x := r.off + int64(i)
		p[i] = "0123456789abcdefghijklmnopqrstuvwxyz\n"[x%37]
	}
	r.off += int64(len(p))
	return len(p), nil
}
