package typed_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/typed"
)

// Wide is 240 bytes of Go value that a one-byte empty map decodes into.
type Wide struct {
	F00, F01, F02, F03, F04, F05, F06, F07, F08, F09 int64
	F10, F11, F12, F13, F14, F15, F16, F17, F18, F19 int64
	F20, F21, F22, F23, F24, F25, F26, F27, F28, F29 int64
}

// amplifying is a well-formed payload of about size bytes, inside every
// element and depth limit: an array of empty maps, each of which decodes
// into a Wide. Decoded naively as []Wide it costs 480 bytes per byte with
// msgpack (which copies the slice once more) and 240 with cbor.
func amplifying(c codec.Codec, size int) []byte {
	n := size - 5
	b := make([]byte, 5, size)
	if c.Name() == "msgpack" {
		b[0] = 0xdd // array32
	} else {
		b[0] = 0x9a // array, 4-byte count
	}
	binary.BigEndian.PutUint32(b[1:], uint32(n))
	empty := byte(0x80) // msgpack fixmap 0
	if c.Name() == "cbor" {
		empty = 0xa0 // cbor map 0
	}
	for range n {
		b = append(b, empty)
	}
	return b
}

// processAllocated returns what the whole process allocates while f runs:
// master, slaves and test alike.
func processAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// transportAllowance is what carrying a payload of n bytes over loopback
// costs besides decoding it: the sender's copy, and the receiving buffer
// grown by doubling.
func transportAllowance(n int) uint64 { return 6*uint64(n) + 4<<20 }

const attackSize = 2 << 20

// TestAmplifiedRequestIsRefused: a master with typed handlers receives 2
// MiB of hostile request sent raw. Each is answered with CodeBadRequest
// naming the bound, the master's process allocates no more than the
// codec's bound plus the cost of carrying the bytes (before the bound:
// 516 MiB with msgpack, 260 MiB with cbor), and an honest slave calling
// the same master during the attack is served within a second.
func TestAmplifiedRequestIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("sends several 2 MiB payloads")
	}
	addr := newMaster(t, func(m *master.Master) {
		for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
			require.NoError(t, typed.Register(m, "wide."+c.Name(), c, func(_ context.Context, v []Wide) (int, error) { return len(v), nil }))
			require.NoError(t, typed.Register(m, "small."+c.Name(), c, echo[Small]))
		}
	})
	attacker, honest := dial(t, addr), dial(t, addr)
	ctx := callCtx(t)
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		t.Run(c.Name(), func(t *testing.T) {
			payload := amplifying(c, attackSize)
			// Honest calls run throughout the attack; the slowest must
			// take under a second.
			stop := make(chan struct{})
			var slowest atomic.Int64
			var honestErr error
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					got, err := typed.Call[Small, Small](ctx, honest, "small."+c.Name(), smallValue())
					if err != nil || got != smallValue() {
						honestErr = errors.Join(honestErr, err)
						return
					}
					if d := int64(time.Since(start)); d > slowest.Load() {
						slowest.Store(d)
					}
				}
			}()
			const attacks = 4
			var errs []error
			n := processAllocated(func() {
				for range attacks {
					_, err := attacker.Call(ctx, "wide."+c.Name(), payload)
					errs = append(errs, err)
				}
			})
			close(stop)
			wg.Wait()
			t.Logf("%d attacks of %d bytes: the process allocated %d bytes (%.1f per byte received); slowest honest call %v",
				attacks, len(payload), n, float64(n)/float64(attacks*len(payload)), time.Duration(slowest.Load()))
			require.NoError(t, honestErr, "the honest slave's calls failed")
			for _, err := range errs {
				var re *slave.RemoteError
				require.ErrorAs(t, err, &re, "the hostile request was accepted")
				require.Equal(t, typed.CodeBadRequest, re.Code, "%v", err)
				require.Contains(t, re.Message, "would allocate about")
				require.Contains(t, re.Message, "refused")
				require.Equal(t, 1, strings.Count(re.Message, "fastrpc: "), "%q", re.Message)
				require.Equal(t, 1, strings.Count(err.Error(), "fastrpc: "), "the prefix is shown once: %q", err)
			}
			bound := attacks * (codec.AllocBound(len(payload)) + transportAllowance(len(payload)))
			require.LessOrEqual(t, n, bound, "the master allocated %d bytes for %d attacks of %d bytes", n, attacks, len(payload))
			require.Less(t, time.Duration(slowest.Load()), time.Second, "an honest call waited during the attack")
			t.Log(errs[0])
		})
	}
}

// TestAmplifiedResponseIsRefused: a hostile master answers a typed call
// with 2 MiB that would decode into 480 MiB (msgpack) or 240 MiB (cbor) of
// []Wide. typed.Call returns an error matching codec.ErrTooCostly, and the
// process allocates no more than the codec's bound plus the cost of
// carrying the bytes.
func TestAmplifiedResponseIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 2 MiB payloads")
	}
	payloads := map[string][]byte{}
	addr := newMaster(t, func(m *master.Master) {
		for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
			payload := amplifying(c, attackSize)
			payloads[c.Name()] = payload
			info := master.MethodInfo{IncomingEncoding: c.Name(), ReturningEncoding: c.Name()}
			require.NoError(t, m.Register("hostile."+c.Name(), info, func(op *master.IOOperator) error {
				if _, err := io.Copy(io.Discard, op); err != nil {
					return err
				}
				return op.WriteIOFromBuffer(payload)
			}))
		}
	})
	s := dial(t, addr)
	ctx := callCtx(t)
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		t.Run(c.Name(), func(t *testing.T) {
			method := "hostile." + c.Name()
			_, _ = typed.Call[int, int](ctx, s, method, 1) // caches the codec lookup
			var err error
			n := processAllocated(func() { _, err = typed.Call[int, []Wide](ctx, s, method, 1) })
			size := len(payloads[c.Name()])
			t.Logf("allocated %d bytes for a %d-byte response (%.1f per byte): %v", n, size, float64(n)/float64(size), err)
			require.Error(t, err)
			require.ErrorIs(t, err, codec.ErrTooCostly)
			var de *typed.DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, "response", de.What)
			require.Equal(t, 1, strings.Count(err.Error(), "fastrpc:"), "one prefix: %s", err)
			require.LessOrEqual(t, n, codec.AllocBound(size)+transportAllowance(size))
		})
	}
}
