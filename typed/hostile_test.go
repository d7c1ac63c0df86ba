package typed_test

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/typed"
)

// hostile returns payloads that must be refused by c's typed handlers.
func hostile(c codec.Codec) map[string][]byte {
	valid, err := c.Append(nil, sampleDoc())
	if err != nil {
		panic(err)
	}
	p := map[string][]byte{
		"empty":          {},
		"truncated":      valid[:len(valid)/2],
		"one byte short": valid[:len(valid)-1],
		"trailing byte":  append(valid[:len(valid):len(valid)], 0),
	}
	for _, other := range []codec.Codec{codec.Msgpack, codec.CBOR, codec.JSON} {
		if other != c {
			p["encoded with "+other.Name()] = must(other.Append(nil, sampleDoc()))
		}
	}
	switch c.Name() {
	case "msgpack":
		p["array32 of 2^31-1"] = []byte{0xdd, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5}
		p["map32 of 2^31-1"] = []byte{0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'a', 1}
		p["bin32 of 4 GiB in a field"] = []byte{0x81, 0xa4, 'l', 'e', 'a', 'f', 0x81, 0xa4, 'b', 'l', 'o', 'b', 0xc6, 0xff, 0xff, 0xff, 0xff, 1}
		p["leaves array32 of 2^31-1"] = []byte{0x81, 0xa6, 'l', 'e', 'a', 'v', 'e', 's', 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x80}
		p["100000 nested arrays"] = append(bytes.Repeat([]byte{0x91}, 100000), 0xc0)
	case "cbor":
		p["array of 2^63-1"] = []byte{0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}
		p["map of 2^31-1"] = []byte{0xba, 0x7f, 0xff, 0xff, 0xff, 0x61, 'a', 1}
		p["leaves array of 2^31-1"] = []byte{0xa1, 0x66, 'l', 'e', 'a', 'v', 'e', 's', 0x9a, 0x7f, 0xff, 0xff, 0xff, 0x80}
		p["bytes of 2^63-1"] = []byte{0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}
		p["100000 nested arrays"] = append(bytes.Repeat([]byte{0x81}, 100000), 0xf6)
	case "json":
		p["100000 nested arrays"] = []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))
		p["100000 nested objects"] = []byte(strings.Repeat(`{"leaf":`, 100000))
		p["huge number"] = []byte(`{"id": 1e999999999}`)
	}
	return p
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestHostileThroughHandler sends hostile payloads to typed handlers over
// a real connection: each is answered with CodeBadRequest, costs at most a
// few MiB, and the master keeps serving on the same connections.
func TestHostileThroughHandler(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		for _, c := range structured {
			require.NoError(t, typed.Register(m, "doc."+c.Name(), c, echo[Doc]))
			require.NoError(t, typed.Register(m, "any."+c.Name(), c, echo[any]))
		}
	})
	s := dial(t, addr)
	ctx := callCtx(t)
	dials := s.PoolStats().Dials
	for _, c := range structured {
		for name, payload := range hostile(c) {
			for _, method := range []string{"doc." + c.Name(), "any." + c.Name()} {
				if method[:3] == "any" && strings.HasPrefix(name, "encoded with") {
					continue // valid in another codec may be valid as any
				}
				var err error
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				_, err = s.Call(ctx, method, payload)
				runtime.ReadMemStats(&after)
				var re *slave.RemoteError
				require.ErrorAs(t, err, &re, "%s: %s accepted", method, name)
				require.Equal(t, typed.CodeBadRequest, re.Code, "%s: %s: %v", method, name, err)
				require.Contains(t, re.Message, c.Name())
				allocated := after.TotalAlloc - before.TotalAlloc
				require.Less(t, allocated, uint64(4<<20)+uint64(4*len(payload)), "%s: %s allocated %d bytes", method, name, allocated)
			}
		}
		// Still serving, on the same connections.
		got, err := typed.Call[Doc, Doc](ctx, s, "doc."+c.Name(), sampleDoc())
		require.NoError(t, err)
		require.Equal(t, sampleDoc().Text, got.Text)
	}
	require.Equal(t, dials, s.PoolStats().Dials, "no connection was lost")
}

// TestHugeValidRequest: a request well beyond the pooled buffer sizes is
// read and decoded.
func TestHugeValidRequest(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		require.NoError(t, typed.Register(m, "len", codec.Msgpack, func(_ context.Context, s string) (int, error) { return len(s), nil }))
	})
	s := dial(t, addr)
	big := strings.Repeat("x", 8<<20)
	n, err := typed.Call[string, int](callCtx(t), s, "len", big)
	require.NoError(t, err)
	require.Equal(t, len(big), n)
}

// enteringRegistrar signals each time one of its handlers starts.
type enteringRegistrar struct {
	*master.Master
	entered chan struct{}
}

func (r enteringRegistrar) Register(name string, info master.MethodInfo, h master.Handler) error {
	return r.Master.Register(name, info, func(op *master.IOOperator) error {
		r.entered <- struct{}{}
		return h(op)
	})
}

// TestAnnouncedLengthIsNotAllocated: a request header announcing 60 MiB
// followed by 10000 bytes makes the typed handler allocate for the bytes that
// arrived, not for the announced length.
func TestAnnouncedLengthIsNotAllocated(t *testing.T) {
	reg := enteringRegistrar{Master: master.New(master.Config{}), entered: make(chan struct{}, 1)}
	require.NoError(t, typed.Register(reg, "doc", codec.Msgpack, echo[Doc]))
	addr := serve(t, reg.Master)

	nc, err := net.DialTimeout("tcp", addr.String(), hangGuard)
	require.NoError(t, err)
	defer nc.Close()
	msg := make([]byte, frame.PrefaceSize+frame.RequestHeaderSize+10000)
	frame.PutPreface(msg, frame.Preface{Version: frame.Version1})
	frame.PutRequestHeader(msg[frame.PrefaceSize:], frame.RequestHeader{Method: frame.MethodID("doc"), Length: 60 << 20})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = nc.Write(msg)
	require.NoError(t, err)
	select {
	case <-reg.entered:
	case <-time.After(hangGuard):
		t.Fatal("the handler did not start")
	}
	time.Sleep(100 * time.Millisecond) // let it read what was sent
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(4<<20), "allocated %d bytes for 10000 bytes received", allocated)
}
