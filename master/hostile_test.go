package master_test

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// Hostile peers: each case attacks a real master on loopback, then checks
// that an honest slave is served within a second, that the master's
// goroutines come back to where they were, and, after Close, that nothing
// leaked.

// hostileCase runs attack against a fresh master and checks the aftermath.
// attack gets the master and the address it serves on.
func hostileCase(t *testing.T, cfg master.Config, attack func(t *testing.T, m *master.Master, addr string)) {
	leaks := goleak.IgnoreCurrent()
	before := runtime.NumGoroutine()
	m := master.New(cfg)
	register(t, m, map[string]master.Handler{"echo": echo, "big": func(op *master.IOOperator) error {
		return op.WriteIOFromReader(zeros{}, 16<<20, 0)
	}})
	addr, done := serveOn(t, m, "127.0.0.1:0")

	attack(t, m, addr)

	// An honest slave is served promptly after the attack (a slot the
	// attack's last connection held may take the master a moment to see
	// freed: honestWithin tries again within the second).
	honestWithin(t, addr, time.Second)

	// Only the accept loop, the sweeper and the call watcher remain once
	// the attackers are gone.
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+4 }, 5*time.Second, 10*time.Millisecond,
		"goroutines did not return to baseline: %d before, %d now", before, runtime.NumGoroutine())

	require.NoError(t, m.Close())
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after Close")
	}
	goleak.VerifyNone(t, leaks)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestHostileRandomGarbage(t *testing.T) {
	// Fewer than 8 bytes is a preface still arriving: HeaderTimeout ends it.
	hostileCase(t, master.Config{HeaderTimeout: 300 * time.Millisecond}, func(t *testing.T, m *master.Master, addr string) {
		for _, n := range []int{1, 7, 8, 100, 64 << 10} {
			nc := rawDial(t, addr)
			junk := make([]byte, n)
			_, _ = rand.Read(junk)
			_, _ = nc.Write(junk)
			// The master answers with its preface and closes.
			_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := io.ReadAll(nc)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("%d garbage bytes: the master did not close the connection", n)
			}
			_ = nc.Close()
		}
	})
}

func TestHostileWrongPreface(t *testing.T) {
	hostileCase(t, master.Config{}, func(t *testing.T, m *master.Master, addr string) {
		for _, p := range []frame.Preface{{Version: 0}, {Version: 2}, {Version: 0xffff, Status: 7}} {
			nc := rawDial(t, addr)
			writePreface(t, nc, p)
			require.Equal(t, frame.HandshakeOK, readPreface(t, nc).Status)
			require.Empty(t, requireEOF(t, nc), "nothing after the preface")
			_ = nc.Close()
		}
	})
}

func TestHostileHugeLengths(t *testing.T) {
	hostileCase(t, master.Config{}, func(t *testing.T, m *master.Master, addr string) {
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		for _, length := range []uint64{frame.DefaultMaxPayload + 1, 1 << 40, 1 << 62, 1<<64 - 1} {
			for _, id := range []uint64{0, frame.MethodID("echo"), frame.MethodID("nope")} {
				nc := rawHandshake(t, addr)
				writeRequestHeader(t, nc, frame.RequestHeader{Method: id, Length: length})
				h, _ := readResponse(t, nc)
				require.Equal(t, frame.StatusRequestTooLarge, h.Status, "length %d", length)
				requireEOF(t, nc)
				_ = nc.Close()
			}
		}
		runtime.ReadMemStats(&ms1)
		require.Less(t, ms1.TotalAlloc-ms0.TotalAlloc, uint64(8<<20),
			"claimed lengths must not be allocated")
	})
}

func TestHostileTruncatedFrames(t *testing.T) {
	hostileCase(t, master.Config{}, func(t *testing.T, m *master.Master, addr string) {
		var hdr [frame.RequestHeaderSize]byte
		frame.PutRequestHeader(hdr[:], frame.RequestHeader{Method: frame.MethodID("echo"), Length: 1000})
		for _, cut := range []int{1, 16, 31, 32, 500} {
			nc := rawHandshake(t, addr)
			if cut <= len(hdr) {
				_, _ = nc.Write(hdr[:cut])
			} else {
				_, _ = nc.Write(hdr[:])
				_, _ = nc.Write(make([]byte, cut-len(hdr)))
			}
			_ = nc.Close() // mid-frame
		}
		// A truncated preface, too.
		nc := rawDial(t, addr)
		_, _ = nc.Write([]byte("FRP"))
		_ = nc.Close()
	})
}

func TestHostileSlowloris(t *testing.T) {
	hostileCase(t, master.Config{HeaderTimeout: 300 * time.Millisecond}, func(t *testing.T, m *master.Master, addr string) {
		var hdr [frame.RequestHeaderSize]byte
		frame.PutRequestHeader(hdr[:], frame.RequestHeader{Method: frame.MethodID("echo"), Length: 4})
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nc := rawHandshake(t, addr)
				defer nc.Close()
				start := time.Now()
				for i := 0; i < len(hdr); i++ {
					if _, err := nc.Write(hdr[i : i+1]); err != nil {
						break // the master gave up on us: good
					}
					time.Sleep(50 * time.Millisecond)
				}
				_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := io.ReadAll(nc)
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("a dripped header held the connection for %v", time.Since(start))
				}
			}()
		}
		wg.Wait()
	})
}

func TestHostileThousandIdleConnections(t *testing.T) {
	hostileCase(t, master.Config{}, func(t *testing.T, m *master.Master, addr string) {
		runtime.GC()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		conns := make([]net.Conn, 0, 1000)
		for range 1000 {
			conns = append(conns, rawHandshake(t, addr))
		}
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		// Two 16 KiB buffers, a goroutine and bookkeeping per connection,
		// on both ends of the loopback (the raw clients are in this process
		// too): bounded, and not more.
		perConn := (int64(ms1.HeapInuse+ms1.StackInuse) - int64(ms0.HeapInuse+ms0.StackInuse)) / 1000
		require.Less(t, perConn, int64(64<<10), "memory per idle connection")
		t.Logf("%d bytes per idle connection", perConn)
		// While they sit idle, honest calls still go through.
		s := dialSlave(t, addr, slave.Config{PoolSize: 2})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := s.Call(ctx, "echo", []byte("x"))
		require.NoError(t, err)
		require.NoError(t, s.Close())
		for _, nc := range conns {
			_ = nc.Close()
		}
	})
}

func TestHostileOpenCloseLoop(t *testing.T) {
	hostileCase(t, master.Config{}, func(t *testing.T, m *master.Master, addr string) {
		for i := range 500 {
			nc, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			if i%2 == 0 {
				writePreface(t, nc, frame.Preface{Version: frame.Version1})
			}
			if i%3 == 0 {
				_ = nc.(*net.TCPConn).SetLinger(0) // reset instead of FIN
			}
			_ = nc.Close()
		}
	})
}

func TestHostileNeverReadsResponse(t *testing.T) {
	hostileCase(t, master.Config{}, func(t *testing.T, m *master.Master, addr string) {
		// Ask for 16 MiB and never read it: the master's goroutine for this
		// connection blocks writing, and nothing else may.
		nc := rawHandshake(t, addr)
		writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID("big")})
		s := dialSlave(t, addr, slave.Config{PoolSize: 2})
		for range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := s.Call(ctx, "echo", []byte("others are served"))
			cancel()
			require.NoError(t, err)
		}
		require.NoError(t, s.Close())
		_ = nc.Close() // the blocked write fails and the goroutine ends
	})
}

func TestHostileSlowReader(t *testing.T) {
	hostileCase(t, master.Config{}, func(t *testing.T, m *master.Master, addr string) {
		nc := rawHandshake(t, addr)
		writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID("big")})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1024)
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				if _, err := nc.Read(buf); err != nil {
					return
				}
			}
		}()
		s := dialSlave(t, addr, slave.Config{PoolSize: 2})
		for range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := s.Call(ctx, "echo", []byte("others are served"))
			cancel()
			require.NoError(t, err)
		}
		require.NoError(t, s.Close())
		close(stop)
		_ = nc.Close()
		wg.Wait()
	})
}
