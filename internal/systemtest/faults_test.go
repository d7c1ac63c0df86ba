package systemtest_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// Fault tests: a master killed with SIGKILL and restarted, connections
// reset mid-request and mid-response, a blackholed master. In every case
// each call gets its own correct result or an error, and the slave
// recovers without being rebuilt.

const childEnv = "FASTRPC_FAULT_CHILD_ADDR"

// TestFaultChildMaster is not a test: it is the master the fault tests run
// as a child process, so that it can be killed for real.
func TestFaultChildMaster(t *testing.T) {
	addr := os.Getenv(childEnv)
	if addr == "" {
		t.Skip("runs only as the child of the fault tests")
	}
	m := master.New(master.Config{})
	if err := m.Register("sum", master.MethodInfo{}, sumHandler); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	_ = m.Serve(context.Background(), ln)
}

// sumHandler answers a request with its sha256 followed by the request, so
// the caller can tell its own answer from anyone else's.
func sumHandler(op *master.IOOperator) error {
	b, err := op.ReadAll()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	out := append(sum[:], b...)
	time.Sleep(time.Duration(rand.IntN(2)) * time.Millisecond) // widen the in-flight window
	return op.WriteIOFromBuffer(out)
}

// checkSum verifies a sum response for req.
func checkSum(req, resp []byte) error {
	sum := sha256.Sum256(req)
	if len(resp) != len(sum)+len(req) || !bytes.Equal(resp[:len(sum)], sum[:]) || !bytes.Equal(resp[len(sum):], req) {
		return fmt.Errorf("got a response that is not this call's (%d bytes for a %d-byte request)", len(resp), len(req))
	}
	return nil
}

func startChild(t *testing.T, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestFaultChildMaster$", "-test.count", "1")
	cmd.Env = append(os.Environ(), childEnv+"="+addr)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "child master exited before listening")
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("child master did not start")
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// TestFaultMasterKilledAndRestarted kills the master (SIGKILL, a child
// process) while calls are in flight, restarts it on the same port, and
// checks every call's outcome and that the same slave recovers.
func TestFaultMasterKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	child := startChild(t, addr)
	s, err := slave.Dial(context.Background(), slave.Config{Address: addr, PoolSize: 4})
	require.NoError(t, err)
	defer s.Close()

	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req := make([]byte, 8+rng.IntN(100<<10))
				binary.BigEndian.PutUint64(req, uint64(g)<<32|uint64(i))
				for j := 8; j < len(req); j++ {
					req[j] = byte(rng.Uint32())
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := s.Call(ctx, "sum", req)
				cancel()
				if err != nil {
					failed.Add(1)
					time.Sleep(time.Millisecond)
					continue
				}
				if err := checkSum(req, resp); err != nil {
					t.Error(err)
					return
				}
				ok.Add(1)
			}
		}()
	}

	waitFor := func(n int64) {
		require.Eventually(t, func() bool { return ok.Load() >= n }, 30*time.Second, time.Millisecond)
	}
	waitFor(200)
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_, _ = child.Process.Wait()
	killedAt := ok.Load()
	time.Sleep(100 * time.Millisecond) // calls fail while it is down
	startChild(t, addr)
	waitFor(killedAt + 500) // the same slave is served again
	close(stop)
	wg.Wait()
	require.Positive(t, failed.Load(), "calls while the master was down must fail, not hang or succeed")
	t.Logf("%d calls correct, %d failed with an error, none returned wrong bytes", ok.Load(), failed.Load())
}

// cutProxy forwards loopback connections to target and cuts (resets) each
// one after a given number of bytes in one direction.
type cutProxy struct {
	ln     net.Listener
	target string
	cutUp  atomic.Int64 // bytes slave->master before the cut; 0: never
	cutDn  atomic.Int64 // bytes master->slave before the cut; 0: never
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = a.Close()
			continue
		}
		p.wg.Add(2)
		reset := func() {
			_ = a.(*net.TCPConn).SetLinger(0)
			_ = b.(*net.TCPConn).SetLinger(0)
			_ = a.Close()
			_ = b.Close()
		}
		pipe := func(dst, src net.Conn, cut int64) {
			defer p.wg.Done()
			if cut > 0 {
				_, _ = io.CopyN(dst, src, cut)
				reset()
				return
			}
			_, _ = io.Copy(dst, src)
			reset()
		}
		go pipe(b, a, p.cutUp.Load())
		go pipe(a, b, p.cutDn.Load())
	}
}

// TestFaultConnectionReset resets connections mid-request and
// mid-response. Those calls fail with ErrConnection and are never sent
// again: the handler runs once for a call whose request reached it whole
// and was reset on the way back, and never runs whole for one cut on the
// way there. The slave then recovers on fresh connections.
func TestFaultConnectionReset(t *testing.T) {
	var runs, served, returned atomic.Int64 // handler runs, runs that read the whole request, runs ended
	m := master.New(master.Config{})
	require.NoError(t, m.Register("sum", master.MethodInfo{}, func(op *master.IOOperator) error {
		runs.Add(1)
		defer returned.Add(1)
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		served.Add(1)
		sum := sha256.Sum256(b)
		return op.WriteIOFromBuffer(append(sum[:], b...))
	}))
	p := newCutProxy(t, testserve.Serve(t, m).String())
	// settled waits until no handler runs, a moment after the slave's call
	// returned (a request cut on its way may reach the handler late).
	settled := func() (int64, int64) {
		t.Helper()
		time.Sleep(20 * time.Millisecond)
		require.Eventually(t, func() bool { return runs.Load() == returned.Load() }, 10*time.Second, time.Millisecond)
		return runs.Load(), served.Load()
	}

	req := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	for _, tc := range []struct {
		name     string
		up, down int64
		reached  bool // the request reached the handler whole before the reset
	}{
		{"mid-request", 8 + 32 + 500<<10, 0, false}, // preface, header, half the body
		{"mid-response", 0, 8 + 16 + 300<<10, true}, // preface, header, part of the body
		{"mid-header", 0, 8 + 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The proxy decides where to cut when it accepts, so each case
			// starts a slave whose first connection is the one cut; a
			// re-send would go over a connection cut the same way.
			runs0, served0 := settled()
			p.cutUp.Store(tc.up)
			p.cutDn.Store(tc.down)
			s, err := slave.New(slave.Config{Address: p.ln.Addr().String(), PoolSize: 1})
			require.NoError(t, err)
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = s.Call(ctx, "sum", req)
			require.ErrorIs(t, err, slave.ErrConnection)
			require.NoError(t, ctx.Err(), "the failure must be reported, not waited out")
			r, sv := settled()
			if tc.reached {
				require.EqualValues(t, 1, r-runs0, "handler runs for one call reset after reaching it (a re-send?)")
				require.EqualValues(t, 1, sv-served0, "whole requests served for one call reset after reaching the handler")
			} else {
				require.LessOrEqual(t, r-runs0, int64(1), "handler runs for one call cut on its way (a re-send?)")
				require.Zero(t, sv-served0, "a request cut on its way was served whole")
			}

			p.cutUp.Store(0)
			p.cutDn.Store(0)
			resp, err := s.Call(ctx, "sum", req)
			require.NoError(t, err, "the slave recovers on a fresh connection")
			require.NoError(t, checkSum(req, resp))
			r2, sv2 := settled()
			require.Equal(t, int64(1), r2-r, "handler runs for the recovering call")
			require.Equal(t, int64(1), sv2-sv, "whole requests served for the recovering call")
		})
	}
}

// TestFaultBlackhole: a listener that accepts and never answers. Dialling
// and calls end at their deadlines with clear errors.
func TestFaultBlackhole(t *testing.T) {
	addr := testserve.Silent(t)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := slave.Dial(ctx, slave.Config{Address: addr, PoolSize: 1})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)

	s, err := slave.New(slave.Config{Address: addr, PoolSize: 1})
	require.NoError(t, err)
	defer s.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	_, err = s.Call(ctx2, "sum", []byte("x"))
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}
