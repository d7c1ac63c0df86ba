package slave_test

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/slave"
)

// 500 goroutines through a pool of 4, with either pool: every call gets
// back exactly its own bytes.
func TestPoolManyCallers(t *testing.T) {
	const goroutines, calls, poolSize = 500, 4, 4
	src := randomBytes(3, 70<<10)
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			_, addr := poolMaster(t, "127.0.0.1:0")
			s, err := slave.New(slave.Config{Address: addr, PoolSize: poolSize, Pool: k.pool})
			require.NoError(t, err)
			defer s.Close()
			ctx := callCtx(t)
			var ok atomic.Int64
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var dst []byte
					var err error
					for i := range calls {
						// Sizes from 8 bytes to past the full-duplex threshold.
						size := 8 + (g*7919+i*104729)%(len(src)-8)
						if g%5 != 0 {
							size %= 4 << 10
							size += 8
						}
						req := append([]byte(nil), src[:size]...)
						binary.BigEndian.PutUint32(req[0:], uint32(g))
						binary.BigEndian.PutUint32(req[4:], uint32(i))
						want := sha256.Sum256(req)
						dst, err = s.CallAppend(ctx, "echo", req, dst[:0])
						if !assert.NoError(t, err, "goroutine %d call %d", g, i) {
							return
						}
						if !assert.Equal(t, want, sha256.Sum256(dst), "goroutine %d call %d (%d bytes)", g, i, size) {
							return
						}
						ok.Add(1)
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("callers stuck: %+v", s.PoolStats())
			}
			require.EqualValues(t, goroutines*calls, ok.Load())
			st := s.PoolStats()
			assert.Equal(t, uint64(goroutines*calls), st.Acquires)
			assert.LessOrEqual(t, st.Open, poolSize)
			assert.LessOrEqual(t, st.Dials, uint64(poolSize), "no connection was lost")
			assert.Equal(t, 0, st.InUse)
			assert.Equal(t, 0, st.Waiting)
			t.Logf("%s: %+v", k.name, st)
		})
	}
}
