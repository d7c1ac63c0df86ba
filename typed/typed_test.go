package typed_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	fastrpc "github.com/AmanTrance/FastRpc"
	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/typed"
)

// Both the packages' types and the root facade's fit the typed layer.
var (
	_ typed.Registrar = (*master.Master)(nil)
	_ typed.Registrar = (*fastrpc.RpcMaster)(nil)
	_ typed.Caller    = (*slave.Slave)(nil)
	_ typed.Caller    = (*fastrpc.RpcSlave)(nil)
)

type AddReq struct {
	A, B int64
}

type AddResp struct {
	Sum int64
}

func add(_ context.Context, r AddReq) (AddResp, error) { return AddResp{Sum: r.A + r.B}, nil }

type Leaf struct {
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
	Blob  []byte            `json:"blob"`
}

type Doc struct {
	ID      int64           `json:"id"`
	Max     uint64          `json:"max"`
	F       float64         `json:"f"`
	Text    string          `json:"text"`
	Leaf    Leaf            `json:"leaf"`
	PLeaf   *Leaf           `json:"p_leaf"`
	NilLeaf *Leaf           `json:"nil_leaf"`
	Leaves  []Leaf          `json:"leaves"`
	NilList []int           `json:"nil_list"`
	Empty   []int           `json:"empty"`
	ByKey   map[string]Leaf `json:"by_key"`
	NilMap  map[string]int  `json:"nil_map"`
	When    time.Time       `json:"when"`
	Zero    time.Time       `json:"zero"`
	PWhen   *time.Time      `json:"p_when"`
}

var when = time.Date(2023, 12, 31, 23, 59, 59, 999999999, time.FixedZone("NPT", 5*3600+45*60))

func sampleDoc() Doc {
	pw := when.Add(-time.Minute)
	return Doc{
		ID: math.MinInt64, Max: math.MaxUint64, F: -1.25e-300,
		Text:   "héllo 世界 🚀 \u0000 \"q\" <&>",
		Leaf:   Leaf{Name: "leaf", Tags: []string{"a", "", "ü"}, Attrs: map[string]string{"k": "v", "ключ": "значение"}, Blob: []byte{0, 0xff}},
		PLeaf:  &Leaf{Name: "pointed"},
		Leaves: []Leaf{{Name: "1"}, {Name: "2", Blob: []byte{}}},
		Empty:  []int{},
		ByKey:  map[string]Leaf{"x": {Name: "y"}, "": {}},
		When:   when,
		PWhen:  &pw,
	}
}

// requireSameDoc compares documents; times by instant, checked apart.
func requireSameDoc(t *testing.T, c string, want, got Doc) {
	t.Helper()
	require.True(t, want.When.Equal(got.When), "%s: When %v != %v", c, want.When, got.When)
	require.Equal(t, want.When.Nanosecond(), got.When.Nanosecond(), c)
	if c != codec.Msgpack.Name() {
		_, wo := want.When.Zone()
		_, gotOff := got.When.Zone()
		require.Equal(t, wo, gotOff, "%s keeps the UTC offset", c)
	}
	require.True(t, got.Zero.IsZero(), c)
	require.Equal(t, want.PWhen == nil, got.PWhen == nil, c)
	if want.PWhen != nil {
		require.True(t, want.PWhen.Equal(*got.PWhen), c)
	}
	want.When, got.When, want.Zero, got.Zero, want.PWhen, got.PWhen = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil, nil
	require.Equal(t, want, got, c)
}

var structured = []codec.Codec{codec.Msgpack, codec.CBOR, codec.JSON}

func echo[T any](_ context.Context, v T) (T, error) { return v, nil }

func TestRoundTripEveryCodec(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		for _, c := range structured {
			require.NoError(t, typed.Register(m, "doc."+c.Name(), c, echo[Doc]))
			require.NoError(t, typed.Register(m, "strings."+c.Name(), c, echo[[]string]))
			require.NoError(t, typed.Register(m, "ptr."+c.Name(), c, echo[*Leaf]))
		}
		require.NoError(t, typed.Register(m, "bytes.raw", codec.Raw, func(_ context.Context, b []byte) ([]byte, error) {
			return append([]byte("got:"), b...), nil
		}))
	})
	s := dial(t, addr)
	ctx := callCtx(t)

	bigText := strings.Repeat("ü世🚀.", 1<<20/10)
	bigList := make([]Leaf, 10000)
	for i := range bigList {
		bigList[i] = Leaf{Name: fmt.Sprint(i), Tags: []string{"t"}}
	}
	for _, c := range structured {
		t.Run(c.Name(), func(t *testing.T) {
			for _, want := range []Doc{sampleDoc(), {}, {Text: bigText, Leaves: bigList}} {
				got, err := typed.Call[Doc, Doc](ctx, s, "doc."+c.Name(), want)
				require.NoError(t, err)
				requireSameDoc(t, c.Name(), want, got)
			}

			got, err := typed.Call[[]string, []string](ctx, s, "strings."+c.Name(), []string{"ä", "", "🚀"})
			require.NoError(t, err)
			require.Equal(t, []string{"ä", "", "🚀"}, got)
			got, err = typed.Call[[]string, []string](ctx, s, "strings."+c.Name(), nil)
			require.NoError(t, err)
			require.Nil(t, got)

			p, err := typed.Call[*Leaf, *Leaf](ctx, s, "ptr."+c.Name(), &Leaf{Name: "p"})
			require.NoError(t, err)
			require.Equal(t, &Leaf{Name: "p"}, p)
			p, err = typed.Call[*Leaf, *Leaf](ctx, s, "ptr."+c.Name(), nil)
			require.NoError(t, err)
			require.Nil(t, p)
		})
	}
	t.Run("raw", func(t *testing.T) {
		for _, in := range [][]byte{[]byte("payload"), {}, []byte(bigText)} {
			got, err := typed.Call[[]byte, []byte](ctx, s, "bytes.raw", in)
			require.NoError(t, err)
			require.Equal(t, "got:"+string(in), string(got))
		}
	})
}

// TestServicesWithOwnCodecs: one master, four services each with its own
// codec, called from one slave with the advertised codecs, through every
// combination of the package and root-facade types.
func TestServicesWithOwnCodecs(t *testing.T) {
	register := func(t *testing.T, r typed.Registrar) {
		require.NoError(t, typed.Register(r, "add", codec.Msgpack, add, typed.WithDescription("adds two numbers")))
		require.NoError(t, typed.Register(r, "concat", codec.CBOR, func(_ context.Context, l []string) (string, error) {
			return strings.Join(l, "+"), nil
		}))
		require.NoError(t, typed.Register(r, "stats", codec.JSON, func(_ context.Context, xs []float64) (map[string]float64, error) {
			sum := 0.0
			for _, x := range xs {
				sum += x
			}
			return map[string]float64{"n": float64(len(xs)), "sum": sum}, nil
		}))
		require.NoError(t, typed.Register(r, "upper", codec.Raw, func(_ context.Context, b []byte) ([]byte, error) {
			return []byte(strings.ToUpper(string(b))), nil
		}))
	}
	callAll := func(t *testing.T, s typed.Caller) {
		ctx := callCtx(t)
		sum, err := typed.Call[AddReq, AddResp](ctx, s, "add", AddReq{A: 2, B: 40})
		require.NoError(t, err)
		require.Equal(t, int64(42), sum.Sum)
		joined, err := typed.Call[[]string, string](ctx, s, "concat", []string{"a", "b"})
		require.NoError(t, err)
		require.Equal(t, "a+b", joined)
		st, err := typed.Call[[]float64, map[string]float64](ctx, s, "stats", []float64{1, 2, 3.5})
		require.NoError(t, err)
		require.Equal(t, map[string]float64{"n": 3, "sum": 6.5}, st)
		up, err := typed.Call[[]byte, []byte](ctx, s, "upper", []byte("shout"))
		require.NoError(t, err)
		require.Equal(t, "SHOUT", string(up))
	}
	checkCaps := func(t *testing.T, caps []frame.Capability) {
		byName := map[string]frame.Capability{}
		for _, c := range caps {
			byName[c.Name] = c
		}
		for name, enc := range map[string]string{"add": "msgpack", "concat": "cbor", "stats": "json", "upper": "raw"} {
			require.Equal(t, enc, byName[name].IncomingEncoding, name)
			require.Equal(t, enc, byName[name].ReturningEncoding, name)
		}
		require.Equal(t, "typed_test.AddReq -> typed_test.AddResp: adds two numbers", byName["add"].Description)
		require.Equal(t, "[]string -> string", byName["concat"].Description)
		require.Equal(t, "[]float64 -> map[string]float64", byName["stats"].Description)
		require.Equal(t, "[]uint8 -> []uint8", byName["upper"].Description)
	}

	t.Run("master.Master+slave.Slave", func(t *testing.T) {
		m := master.New(master.Config{})
		register(t, m)
		addr := serve(t, m)
		checkCaps(t, m.Capabilities())
		callAll(t, dial(t, addr))
	})
	t.Run("fastrpc.RpcMaster+fastrpc.RpcSlave", func(t *testing.T) {
		rm, err := fastrpc.NewMaster()
		require.NoError(t, err)
		register(t, rm)
		addr := serve(t, rm.Master)
		tcp := addr.(*net.TCPAddr)
		rs, err := fastrpc.NewSlave(tcp.IP, tcp.Port, 2)
		require.NoError(t, err)
		defer rs.DeInitialize()
		caps, err := rs.GetMasterCapabilities()
		require.NoError(t, err)
		checkCaps(t, caps)
		callAll(t, rs)
		callAll(t, dial(t, addr)) // a slave.Slave on the facade's master
	})
	t.Run("master.Master+fastrpc.RpcSlave", func(t *testing.T) {
		m := master.New(master.Config{})
		register(t, m)
		callAll(t, &fastrpc.RpcSlave{Slave: dial(t, serve(t, m))})
	})
}

func TestHandlerErrors(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		require.NoError(t, typed.Register(m, "plain", codec.Msgpack, func(context.Context, AddReq) (AddResp, error) {
			return AddResp{}, errors.New("plain failure")
		}))
		require.NoError(t, typed.Register(m, "coded", codec.CBOR, func(_ context.Context, r AddReq) (AddResp, error) {
			return AddResp{}, typed.Errorf(404, "no entry %d", r.A)
		}))
		require.NoError(t, typed.Register(m, "coder", codec.JSON, func(context.Context, AddReq) (AddResp, error) {
			return AddResp{}, fmt.Errorf("wrapped: %w", myCoded{})
		}))
		require.NoError(t, typed.Register(m, "deadline", codec.JSON, func(ctx context.Context, _ AddReq) (AddResp, error) {
			if _, ok := ctx.Deadline(); !ok {
				return AddResp{}, errors.New("no deadline on the handler's context")
			}
			<-ctx.Done()
			return AddResp{}, ctx.Err()
		}))
		require.NoError(t, typed.Register(m, "panics", codec.JSON, func(context.Context, AddReq) (AddResp, error) {
			panic("boom")
		}))
		require.NoError(t, typed.Register(m, "unencodable", codec.JSON, func(context.Context, AddReq) (map[string]any, error) {
			return map[string]any{"c": make(chan int)}, nil
		}))
	})
	s := dial(t, addr)
	ctx := callCtx(t)

	_, err := typed.Call[AddReq, AddResp](ctx, s, "plain", AddReq{})
	var re *slave.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "plain failure", re.Message)
	require.Equal(t, frame.StatusApplicationError, re.Status)
	require.Equal(t, "plain", re.Method)
	require.ErrorIs(t, err, slave.ErrApplication)
	var te *typed.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, uint32(0), te.Code())
	require.Equal(t, "plain failure", te.Message)
	require.Same(t, re, te.Remote)
	require.Equal(t, re.Error(), err.Error(), "the text is the raw path's")

	_, err = typed.Call[AddReq, AddResp](ctx, s, "coded", AddReq{A: 7})
	require.ErrorAs(t, err, &te)
	require.Equal(t, uint32(404), te.Code())
	require.Equal(t, uint32(404), te.AppCode)
	require.Equal(t, "no entry 7", te.Message)
	require.ErrorAs(t, err, &re)
	require.Equal(t, uint32(404), re.Code)
	var coder interface{ Code() uint32 }
	require.ErrorAs(t, err, &coder)
	require.Equal(t, uint32(404), coder.Code())

	_, err = typed.Call[AddReq, AddResp](ctx, s, "coder", AddReq{})
	require.ErrorAs(t, err, &te)
	require.Equal(t, uint32(7), te.Code())
	require.Equal(t, "wrapped: mine", te.Message)

	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = typed.Call[AddReq, AddResp](dctx, s, "deadline", AddReq{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, errors.As(err, &te), "a deadline is not an application error")

	_, err = typed.Call[AddReq, AddResp](ctx, s, "panics", AddReq{})
	require.ErrorIs(t, err, slave.ErrHandlerPanic)

	_, err = typed.Call[AddReq, map[string]any](ctx, s, "unencodable", AddReq{})
	require.ErrorAs(t, err, &te)
	require.Equal(t, typed.CodeBadResponse, te.Code())
	require.Contains(t, te.Message, `"unencodable"`)
	require.Contains(t, te.Message, "json")

	// The slave still works after all that.
	_, err = typed.Call[AddReq, AddResp](ctx, s, "coded", AddReq{A: 1})
	require.ErrorAs(t, err, &te)
}

type myCoded struct{}

func (myCoded) Error() string { return "mine" }
func (myCoded) Code() uint32  { return 7 }

func TestErrorf(t *testing.T) {
	cause := errors.New("cause")
	err := typed.Errorf(9, "while doing x: %w", cause)
	require.ErrorIs(t, err, cause)
	require.Equal(t, "while doing x: cause", err.Error())
	var coder interface{ Code() uint32 }
	require.ErrorAs(t, err, &coder)
	require.Equal(t, uint32(9), coder.Code())
	require.Equal(t, "plain 1", typed.Errorf(1, "plain %d", 1).Error())
}

// TestMasterDecodeFailure: garbage sent to a typed method is answered with
// CodeBadRequest naming the method, the codec and the type.
func TestMasterDecodeFailure(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		for _, c := range structured {
			require.NoError(t, typed.Register(m, "add."+c.Name(), c, add))
		}
	})
	s := dial(t, addr)
	for _, c := range structured {
		_, err := s.Call(callCtx(t), "add."+c.Name(), []byte("\xc1 certainly not "+c.Name()))
		var re *slave.RemoteError
		require.ErrorAs(t, err, &re, c.Name())
		require.ErrorIs(t, err, slave.ErrApplication)
		require.Equal(t, typed.CodeBadRequest, re.Code)
		for _, want := range []string{`"add.` + c.Name() + `"`, "codec " + c.Name(), "typed_test.AddReq", "request"} {
			require.Contains(t, re.Message, want, c.Name())
		}
	}
	// Through typed.Call with the wrong codec forced (no cache: it is sent).
	_, err := typed.Call[AddReq, AddResp](callCtx(t), s, "add.msgpack", AddReq{A: 1}, typed.WithCodec(codec.JSON))
	var te *typed.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, typed.CodeBadRequest, te.Code())
}

// TestSlaveDecodeFailure: a response that does not decode names the
// method, the codec and the type.
func TestSlaveDecodeFailure(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		require.NoError(t, m.Register("liar", master.MethodInfo{IncomingEncoding: "msgpack", ReturningEncoding: "msgpack"}, func(op *master.IOOperator) error {
			return op.WriteIOFromBuffer([]byte("\xc1 not msgpack"))
		}))
		require.NoError(t, m.Register("mixed", master.MethodInfo{IncomingEncoding: "json", ReturningEncoding: "msgpack"}, func(op *master.IOOperator) error {
			b, err := op.ReadAll()
			if err != nil {
				return err
			}
			var r AddReq
			if err := codec.JSON.Unmarshal(b, &r); err != nil {
				return err
			}
			out, err := codec.Msgpack.Append(nil, AddResp{Sum: r.A + r.B})
			if err != nil {
				return err
			}
			return op.WriteIOFromBuffer(out)
		}))
	})
	s := dial(t, addr)
	_, err := typed.Call[AddReq, AddResp](callCtx(t), s, "liar", AddReq{})
	var de *typed.DecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "liar", de.Method)
	require.Equal(t, "msgpack", de.Codec)
	require.Equal(t, "typed_test.AddResp", de.Type)
	require.Equal(t, "response", de.What)
	for _, want := range []string{`"liar"`, "msgpack", "typed_test.AddResp"} {
		require.Contains(t, err.Error(), want)
	}

	// Different advertised encodings each way are honoured.
	r, err := typed.Call[AddReq, AddResp](callCtx(t), s, "mixed", AddReq{A: 1, B: 2})
	require.NoError(t, err)
	require.Equal(t, int64(3), r.Sum)
}

func TestUnknownMethodSendsNothing(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		require.NoError(t, typed.Register(m, "add", codec.Msgpack, add))
	})
	cc := &countingCaller{Slave: dial(t, addr)}
	_, err := typed.Call[AddReq, AddResp](callCtx(t), cc, "nope", AddReq{})
	require.ErrorIs(t, err, slave.ErrUnknownMethod)
	require.Contains(t, err.Error(), `"nope"`)
	require.Zero(t, cc.sent.Load(), "nothing may be sent")
	require.Equal(t, int64(1), cc.caps.Load())

	m2 := typed.NewMethod[AddReq, AddResp](cc, "nope", nil)
	_, err = m2.Call(callCtx(t), AddReq{})
	require.ErrorIs(t, err, slave.ErrUnknownMethod)
	require.Zero(t, cc.sent.Load())
}

func TestCodecMissingOnSlave(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		require.NoError(t, m.Register("exotic", master.MethodInfo{IncomingEncoding: "nosuchcodec", ReturningEncoding: "nosuchcodec"}, func(op *master.IOOperator) error {
			return op.WriteNothing()
		}))
		require.NoError(t, m.Register("bare", master.MethodInfo{}, func(op *master.IOOperator) error {
			b, err := op.ReadAll()
			if err != nil {
				return err
			}
			return op.WriteIOFromBuffer(b)
		}))
	})
	cc := &countingCaller{Slave: dial(t, addr)}
	ctx := callCtx(t)
	_, err := typed.Call[AddReq, AddResp](ctx, cc, "exotic", AddReq{})
	require.ErrorIs(t, err, typed.ErrNoCodec)
	for _, want := range []string{`"nosuchcodec"`, "msgpack", "cbor", "json", "raw", `"exotic"`} {
		require.Contains(t, err.Error(), want)
	}
	_, err = typed.Call[[]byte, []byte](ctx, cc, "bare", []byte("x"))
	require.ErrorIs(t, err, typed.ErrNoCodec)
	require.Contains(t, err.Error(), "WithCodec")
	require.Zero(t, cc.sent.Load(), "nothing may be sent")

	// WithCodec makes a raw method callable.
	b, err := typed.Call[[]byte, []byte](ctx, cc, "bare", []byte("x"), typed.WithCodec(codec.Raw))
	require.NoError(t, err)
	require.Equal(t, "x", string(b))
}

func TestWithCodecMismatch(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		require.NoError(t, typed.Register(m, "add", codec.Msgpack, add))
	})
	cc := &countingCaller{Slave: dial(t, addr)}
	ctx := callCtx(t)
	_, err := typed.Call[AddReq, AddResp](ctx, cc, "add", AddReq{A: 1})
	require.NoError(t, err)
	require.Equal(t, int64(1), cc.sent.Load())

	_, err = typed.Call[AddReq, AddResp](ctx, cc, "add", AddReq{A: 1}, typed.WithCodec(codec.CBOR))
	require.ErrorIs(t, err, typed.ErrCodecMismatch)
	require.Contains(t, err.Error(), "cbor")
	require.Contains(t, err.Error(), "msgpack")
	require.Equal(t, int64(1), cc.sent.Load(), "nothing may be sent")

	r, err := typed.Call[AddReq, AddResp](ctx, cc, "add", AddReq{A: 1, B: 1}, typed.WithCodec(codec.Msgpack))
	require.NoError(t, err)
	require.Equal(t, int64(2), r.Sum)
	require.Equal(t, int64(1), cc.caps.Load(), "the capabilities were asked once")
}

func TestMethodStub(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		require.NoError(t, typed.Register(m, "add", codec.CBOR, add))
	})
	cc := &countingCaller{Slave: dial(t, addr)}
	fixed := typed.NewMethod[AddReq, AddResp](cc, "add", codec.CBOR)
	lazy := typed.NewMethod[AddReq, AddResp](cc, "add", nil)
	require.Equal(t, "add", fixed.Name())
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				for _, stub := range []*typed.Method[AddReq, AddResp]{fixed, lazy} {
					r, err := stub.Call(callCtx(t), AddReq{A: int64(g), B: int64(i)})
					if !assert.NoError(t, err) || !assert.Equal(t, int64(g+i), r.Sum) {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, cc.caps.Load(), int64(8), "the lazy stub looks its codec up once (racing first calls aside)")

	// A stub with the wrong codec gets the master's CodeBadRequest.
	_, err := typed.NewMethod[AddReq, AddResp](cc, "add", codec.JSON).Call(callCtx(t), AddReq{})
	var te *typed.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, typed.CodeBadRequest, te.Code())

	var nilStub *typed.Method[AddReq, AddResp] = typed.NewMethod[AddReq, AddResp](nil, "add", codec.CBOR)
	_, err = nilStub.Call(callCtx(t), AddReq{})
	require.Error(t, err)
	_, err = typed.Call[AddReq, AddResp](callCtx(t), nil, "add", AddReq{})
	require.Error(t, err)
}

// switchCaller sends to whichever slave it currently points at, like a
// client whose master was replaced.
type switchCaller struct {
	mu  sync.Mutex
	cur *slave.Slave
}

func (c *switchCaller) get() *slave.Slave {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

func (c *switchCaller) CallAppend(ctx context.Context, method string, req, dst []byte) ([]byte, error) {
	return c.get().CallAppend(ctx, method, req, dst)
}

func (c *switchCaller) Capabilities(ctx context.Context) (frame.Capabilities, error) {
	return c.get().Capabilities(ctx)
}

// TestCacheFollowsAChangedMaster: after the master starts using another
// codec for a method, one call fails and the next uses the new codec.
func TestCacheFollowsAChangedMaster(t *testing.T) {
	addr1 := newMaster(t, func(m *master.Master) { require.NoError(t, typed.Register(m, "add", codec.Msgpack, add)) })
	addr2 := newMaster(t, func(m *master.Master) { require.NoError(t, typed.Register(m, "add", codec.JSON, add)) })
	addr3 := newMaster(t, func(m *master.Master) {})
	sc := &switchCaller{cur: dial(t, addr1)}
	ctx := callCtx(t)
	stub := typed.NewMethod[AddReq, AddResp](sc, "add", nil)
	_, err := typed.Call[AddReq, AddResp](ctx, sc, "add", AddReq{A: 1})
	require.NoError(t, err)
	_, err = stub.Call(ctx, AddReq{A: 1})
	require.NoError(t, err)

	sc.mu.Lock()
	sc.cur = dial(t, addr2)
	sc.mu.Unlock()
	var te *typed.Error
	for _, call := range []func(AddReq) (AddResp, error){
		func(r AddReq) (AddResp, error) { return typed.Call[AddReq, AddResp](ctx, sc, "add", r) },
		func(r AddReq) (AddResp, error) { return stub.Call(ctx, r) },
	} {
		_, err = call(AddReq{A: 1})
		require.ErrorAs(t, err, &te)
		require.Equal(t, typed.CodeBadRequest, te.Code())
		r, err := call(AddReq{A: 1, B: 2})
		require.NoError(t, err)
		require.Equal(t, int64(3), r.Sum)
	}

	sc.mu.Lock()
	sc.cur = dial(t, addr3)
	sc.mu.Unlock()
	_, err = typed.Call[AddReq, AddResp](ctx, sc, "add", AddReq{A: 1})
	require.ErrorIs(t, err, slave.ErrUnknownMethod)
	var re *slave.RemoteError
	require.ErrorAs(t, err, &re, "the cached codec was used; the master said unknown")
	_, err = typed.Call[AddReq, AddResp](ctx, sc, "add", AddReq{A: 1})
	require.ErrorIs(t, err, slave.ErrUnknownMethod)
	require.False(t, errors.As(err, &re), "the cache was dropped: the capabilities said unknown, nothing was sent")
}

func TestRegisterErrors(t *testing.T) {
	m := master.New(master.Config{})
	defer m.Close()
	require.Error(t, typed.Register[AddReq, AddResp](nil, "x", codec.JSON, add))
	require.Error(t, typed.Register[AddReq, AddResp](m, "x", nil, add))
	require.Error(t, typed.Register[AddReq, AddResp](m, "x", codec.JSON, nil))
	require.NoError(t, typed.Register(m, "x", codec.JSON, add))
	require.ErrorIs(t, typed.Register(m, "x", codec.JSON, add), master.ErrDuplicate)
	require.ErrorIs(t, typed.Register(m, "", codec.JSON, add), master.ErrInvalidName)
	require.ErrorIs(t, typed.Register(m, "capabilities", codec.JSON, add), master.ErrInvalidName)
}

func TestEncodeFailureOnSlave(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		require.NoError(t, typed.Register(m, "any", codec.JSON, echo[map[string]any]))
	})
	cc := &countingCaller{Slave: dial(t, addr)}
	_, err := typed.Call[map[string]any, map[string]any](callCtx(t), cc, "any", map[string]any{"c": make(chan int)})
	require.Error(t, err)
	require.Contains(t, err.Error(), "map[string]interface {}")
	require.Contains(t, err.Error(), "json")
	require.Zero(t, cc.sent.Load())
}
