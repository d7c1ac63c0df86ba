package clustertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/fastrpcetcd"
	"github.com/AmanTrance/FastRpc/fastrpcetcd/etcdtest"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// The churn tests run each master in a child process (this test binary,
// in the mode TestMain picks up), so that one can be killed with SIGKILL
// as a crashed machine would be: no Shutdown, no FIN from a handler that
// is half way.
const (
	childEnv     = "FASTRPC_CLUSTERTEST_MASTER" // the child's name
	childEtcdEnv = "FASTRPC_CLUSTERTEST_ETCD"   // etcd's URL, to register in
	churnService = "churn"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChildMaster(name, os.Getenv(childEtcdEnv)))
	}
	os.Exit(m.Run())
}

// runChildMaster serves "echo" (name|request) on a loopback port until
// SIGTERM, which shuts it down gracefully, or until its stdin closes (the
// test is gone), registering in etcd when etcdURL is set. It prints
// "addr <address>" once it serves.
func runChildMaster(name, etcdURL string) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := master.Config{Logger: logger}
	var reg *fastrpcetcd.Registry
	if etcdURL != "" {
		reg = &fastrpcetcd.Registry{Endpoints: []string{etcdURL}, Service: churnService, TTL: module.Duration(2 * time.Second), Logger: logger}
		cfg.Registry = reg
		defer func() { _ = reg.Close() }()
	}
	m := master.New(cfg)
	err := m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		// A little work, so that calls are in flight when a master dies.
		time.Sleep(200 * time.Microsecond)
		return op.WriteIOFromBuffer(append([]byte(name+"|"), b...))
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve(context.Background(), ln) }()
	fmt.Printf("addr %s\n", ln.Addr())

	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	gone := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(gone) }()
	select {
	case <-term:
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "shutdown:", err)
			return 1
		}
		return 0
	case <-gone:
		_ = m.Close()
		return 0
	case err := <-served:
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
}

// child is a master running in a child process.
type child struct {
	name, addr string
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	exited     chan error
}

// startChild starts the master name, registering in etcd if etcdURL is
// set, and waits for its address.
func startChild(t *testing.T, name, etcdURL string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name, childEtcdEnv+"="+etcdURL)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{name: name, cmd: cmd, stdin: stdin, exited: make(chan error, 1)}
	t.Cleanup(func() { c.kill(t) })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "addr "); ok {
				addr <- a
			}
		}
		c.exited <- cmd.Wait()
	}()
	select {
	case c.addr = <-addr:
	case err := <-c.exited:
		t.Fatalf("master %s exited before serving: %v", name, err)
	case <-time.After(eventually):
		t.Fatalf("master %s did not start", name)
	}
	return c
}

// kill ends c with SIGKILL, as a crash would, and waits for it.
func (c *child) kill(t *testing.T) {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Kill()
	c.wait(t)
}

// drain asks c to shut down gracefully (SIGTERM) and waits for it.
func (c *child) drain(t *testing.T) {
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	c.wait(t)
	require.True(t, c.cmd.ProcessState.Success(), "master %s shut down cleanly", c.name)
}

func (c *child) wait(t *testing.T) {
	select {
	case err := <-c.exited:
		c.exited <- err
	case <-time.After(eventually):
		t.Errorf("master %s did not exit", c.name)
	}
}

// tally counts the callers' outcomes in the phase they ended in.
type tally struct {
	mu     sync.Mutex
	phase  int
	names  []string
	counts []map[string]int // answers per master name, by phase
	// errors a non-idempotent call may meet: it says whether it ran
	okErrs []int
	bad    []string // wrong bytes, idempotent failures, errors that say nothing
}

func newTally(phases ...string) *tally {
	t := &tally{names: phases}
	for range phases {
		t.counts = append(t.counts, map[string]int{})
		t.okErrs = append(t.okErrs, 0)
	}
	return t
}

func (t *tally) next() {
	t.mu.Lock()
	t.phase++
	t.mu.Unlock()
}

func (t *tally) answer(master string) {
	t.mu.Lock()
	t.counts[t.phase][master]++
	t.mu.Unlock()
}

func (t *tally) failed(ok bool, what string) {
	t.mu.Lock()
	if ok {
		t.okErrs[t.phase]++
	} else if len(t.bad) < 20 {
		t.bad = append(t.bad, fmt.Sprintf("phase %q: %s", t.names[t.phase], what))
	}
	t.mu.Unlock()
}

// callers runs n goroutines calling "echo" through c until stop closes;
// every other call is marked idempotent. Each answer must carry its own
// request.
func callers(c *cluster.Client, n int, tl *tally, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req := fmt.Sprintf("g%d-%d", g, i)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				idem := i%2 == 0
				if idem {
					ctx = cluster.Idempotent(ctx)
				}
				out, err := c.Call(ctx, "echo", []byte(req))
				cancel()
				switch {
				case err == nil:
					name, body, ok := strings.Cut(string(out), "|")
					if !ok || body != req {
						tl.failed(false, fmt.Sprintf("call %s got %q", req, out))
						continue
					}
					tl.answer(name)
				case idem:
					tl.failed(false, fmt.Sprintf("idempotent call %s failed: %v", req, err))
				default:
					// A non-idempotent call may fail, saying whether it ran.
					said := errors.Is(err, slave.ErrUnavailable) || strings.Contains(err.Error(), "may have run")
					tl.failed(said, fmt.Sprintf("call %s failed without saying whether it ran: %v", req, err))
				}
			}
		}()
	}
	return &wg
}

// discovery is how the masters are found: etcd, where they register
// themselves, or DNS, where the test publishes them as an operator (or
// Kubernetes) would.
type discovery struct {
	resolver cluster.Resolver
	etcdURL  string                                    // set for etcd: the children register
	started  func(*child)                              // a master came
	gone     func(*child)                              // a master is gone for good
	bounce   func(*testing.T, *cluster.Client, *child) // the master leaves the list and comes back while it serves
}

// churn runs three masters with callers all along while one is killed
// with SIGKILL, one is added, one leaves the list and comes back while it
// serves (its etcd lease lost, its DNS record gone for a moment), and one
// drains with Shutdown; it checks every outcome and reports the shares.
func churn(t *testing.T, d discovery) {
	phases := []string{"three masters", "a killed", "d added", "c left, came back", "b draining", "c and d"}
	tl := newTally(phases...)
	a, b, c := startChild(t, "a", d.etcdURL), startChild(t, "b", d.etcdURL), startChild(t, "c", d.etcdURL)
	for _, ch := range []*child{a, b, c} {
		d.started(ch)
	}
	cl, err := cluster.New(cluster.Config{Resolver: d.resolver, Slave: slave.Config{PoolSize: 4}})
	require.NoError(t, err)
	defer closeBounded(t, cl)
	waitMembers(t, cl, a.addr, b.addr, c.addr)

	stop := make(chan struct{})
	wg := callers(cl, 8, tl, stop)
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer halt()
	run := func() { time.Sleep(1500 * time.Millisecond) }

	run() // three masters
	tl.next()
	killed := time.Now()
	a.kill(t)
	require.Eventually(t, func() bool { return ejected(cl, a.addr) }, eventually, time.Millisecond, "a is ejected")
	t.Logf("a was ejected %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	d.gone(a)
	run()

	tl.next() // d added
	dd := startChild(t, "d", d.etcdURL)
	d.started(dd)
	require.Eventually(t, func() bool { return calls(cl, dd.addr) > 0 }, eventually, time.Millisecond, "d takes calls")
	run()

	tl.next() // c leaves the list and comes back
	d.bounce(t, cl, c)
	waitMembers(t, cl, c.addr)
	run()

	tl.next() // b draining
	b.drain(t)
	d.gone(b)
	run()

	tl.next() // c and d
	run()
	halt()

	tl.mu.Lock()
	defer tl.mu.Unlock()
	for i, name := range phases {
		total := 0
		for _, n := range tl.counts[i] {
			total += n
		}
		line := fmt.Sprintf("%-18s %6d calls:", name, total)
		for _, m := range []string{"a", "b", "c", "d"} {
			line += fmt.Sprintf(" %s %5.1f%%", m, 100*float64(tl.counts[i][m])/float64(max(total, 1)))
		}
		t.Logf("%s; %d non-idempotent errors that said whether they ran", line, tl.okErrs[i])
	}
	assert.Empty(t, tl.bad, "every call returns its own bytes, idempotent calls never fail, other errors say whether the call ran")

	share := func(phase int, m string) float64 {
		total := 0
		for _, n := range tl.counts[phase] {
			total += n
		}
		require.NotZero(t, total, "calls were answered in phase %q", phases[phase])
		return float64(tl.counts[phase][m]) / float64(total)
	}
	for _, m := range []string{"a", "b", "c"} {
		assert.Greater(t, share(0, m), 0.15, "%s takes its share of three", m)
	}
	// Answers a sent before it died can land just after the phase began:
	// at most one per caller.
	assert.LessOrEqual(t, tl.counts[1]["a"], 8, "the killed master's share goes to the others")
	for _, m := range []string{"b", "c", "d"} {
		assert.Greater(t, share(2, m), 0.15, "%s takes its share once d joined", m)
	}
	assert.LessOrEqual(t, tl.counts[5]["a"]+tl.counts[5]["b"], 8, "the drained and the killed masters take nothing")
	for _, m := range []string{"c", "d"} {
		assert.Greater(t, share(5, m), 0.3, "%s takes half once b drained", m)
	}
}

func waitMembers(t *testing.T, cl *cluster.Client, want ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		have := map[string]bool{}
		for _, m := range cl.Members() {
			have[m.Address] = true
		}
		for _, w := range want {
			if !have[w] {
				return false
			}
		}
		return true
	}, eventually, 5*time.Millisecond, "the client finds %v", want)
}

func ejected(cl *cluster.Client, addr string) bool {
	for _, m := range cl.Members() {
		if m.Address == addr {
			return m.Ejected
		}
	}
	return true // gone from the list counts too
}

func calls(cl *cluster.Client, addr string) int64 {
	for _, m := range cl.Members() {
		if m.Address == addr {
			return m.Calls
		}
	}
	return 0
}

func TestChurnWithEtcd(t *testing.T) {
	etcd := etcdtest.Start(t)
	ec, err := etcd.NewClient()
	require.NoError(t, err)
	defer func() { _ = ec.Close() }()
	key := func(c *child) string { return fastrpcetcd.DefaultPrefix + churnService + "/" + c.addr }
	registered := func(c *child) bool {
		ctx, cancel := context.WithTimeout(context.Background(), eventually)
		defer cancel()
		resp, err := ec.Get(ctx, key(c))
		return err == nil && len(resp.Kvs) == 1
	}
	churn(t, discovery{
		resolver: &fastrpcetcd.Resolver{Client: ec, Service: churnService},
		etcdURL:  etcd.URL(),
		started: func(c *child) {
			require.Eventually(t, func() bool { return registered(c) }, eventually, 5*time.Millisecond, "%s registers", c.name)
		},
		gone: func(c *child) {}, // a drained master withdrew; a killed one's lease expires
		bounce: func(t *testing.T, cl *cluster.Client, c *child) {
			ctx, cancel := context.WithTimeout(context.Background(), eventually)
			defer cancel()
			resp, err := ec.Get(ctx, key(c))
			require.NoError(t, err)
			require.Len(t, resp.Kvs, 1)
			lease := clientv3.LeaseID(resp.Kvs[0].Lease)
			_, err = ec.Revoke(ctx, lease)
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				resp, err := ec.Get(ctx, key(c))
				return err == nil && len(resp.Kvs) == 1 && clientv3.LeaseID(resp.Kvs[0].Lease) != lease
			}, eventually, 5*time.Millisecond, "c registers again on a new lease")
		},
	})
	// The killed master's lease expired by itself.
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), eventually)
		defer cancel()
		resp, err := ec.Get(ctx, fastrpcetcd.DefaultPrefix+churnService+"/", clientv3.WithPrefix())
		return err == nil && len(resp.Kvs) == 2
	}, eventually, 50*time.Millisecond, "only c and d stay registered")
}

func TestChurnWithDNS(t *testing.T) {
	s := startDNS(t)
	var mu sync.Mutex
	live := map[string]*child{}
	republish := func() {
		mu.Lock()
		defer mu.Unlock()
		var recs []srvRecord
		for _, c := range live {
			_, p, err := net.SplitHostPort(c.addr)
			require.NoError(t, err)
			var port uint16
			_, err = fmt.Sscan(p, &port)
			require.NoError(t, err)
			recs = append(recs, srvRecord{target: c.name + ".masters.test.", port: port, priority: 10, weight: 1})
		}
		publish(s, recs...)
	}
	churn(t, discovery{
		resolver: &cluster.DNS{Name: srvName, SRV: true, Server: s.Addr, Interval: module.Duration(500 * time.Millisecond)},
		started: func(c *child) {
			mu.Lock()
			live[c.name] = c
			mu.Unlock()
			republish()
		},
		gone: func(c *child) {
			mu.Lock()
			delete(live, c.name)
			mu.Unlock()
			republish()
		},
		bounce: func(t *testing.T, cl *cluster.Client, c *child) {
			mu.Lock()
			delete(live, c.name)
			mu.Unlock()
			republish()
			require.Eventually(t, func() bool { return !slices.Contains(members(cl), c.addr) }, eventually, 5*time.Millisecond, "c leaves the list")
			mu.Lock()
			live[c.name] = c
			mu.Unlock()
			republish()
		},
	})
}
