package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// eventually is how long a test waits for what must happen; generous, for
// -race on a loaded two-core machine.
const eventually = 15 * time.Second

// srvName is the SRV name the tests publish their masters under.
const srvName = "_fastrpc._tcp.orders.test."

// dnsNode is a master on loopback that answers "who" with its name and
// counts the calls it ran.
type dnsNode struct {
	name string
	m    *master.Master
	addr string
	port uint16
	ran  atomic.Int64
}

func newDNSNode(t *testing.T, name string) *dnsNode {
	t.Helper()
	n := &dnsNode{name: name, m: master.New(master.Config{})}
	require.NoError(t, n.m.Register("who", master.MethodInfo{}, func(op *master.IOOperator) error {
		n.ran.Add(1)
		return op.WriteIOFromBuffer([]byte(n.name))
	}))
	return n
}

// startDNSNode starts a dnsNode on 127.0.0.1 and a free port.
func startDNSNode(t *testing.T, name string) *dnsNode {
	t.Helper()
	n := newDNSNode(t, name)
	addr, _ := testserve.Start(t, n.m, "127.0.0.1:0")
	n.setAddr(t, addr.String())
	return n
}

func (n *dnsNode) setAddr(t *testing.T, addr string) {
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	port, err := strconv.ParseUint(p, 10, 16)
	require.NoError(t, err)
	n.addr, n.port = addr, uint16(port)
}

// srv is n's SRV record, its target n's own name under masters.test.,
// which the test publishes as 127.0.0.1 (see publish).
func (n *dnsNode) srv(priority, weight uint16) srvRecord {
	return srvRecord{target: n.name + ".masters.test.", port: n.port, priority: priority, weight: weight}
}

// publish makes recs the SRV records of srvName, each target 127.0.0.1.
func publish(s *testDNS, recs ...srvRecord) {
	for _, r := range recs {
		s.setAddrs(r.target, "127.0.0.1")
	}
	s.setSRV(srvName, recs...)
}

// dnsClient returns a client over the dns resolver d, asking s; "who" is
// idempotent, so a master dying costs the caller nothing.
func dnsClient(t *testing.T, s *testDNS, d *cluster.DNS) *cluster.Client {
	t.Helper()
	d.Server = s.Addr
	c, err := cluster.New(cluster.Config{Resolver: d, Slave: slave.Config{PoolSize: 2}, Idempotent: []string{"who"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), dnsHang)
	t.Cleanup(cancel)
	return ctx
}

// shares calls "who" n times, each of which must succeed, and counts the
// answers by master name.
func shares(t *testing.T, c *cluster.Client, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		out, err := c.Call(callCtx(t), "who", nil)
		require.NoError(t, err)
		got[string(out)]++
	}
	return got
}

// members returns the addresses of c's masters, sorted.
func members(c *cluster.Client) []string {
	var out []string
	for _, m := range c.Members() {
		out = append(out, m.Address)
	}
	slices.Sort(out)
	return out
}

func addrs(nodes ...*dnsNode) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.addr)
	}
	slices.Sort(out)
	return out
}

// waitCalls calls "who" until n has run a call; the calls may fail
// meanwhile.
func waitCalls(t *testing.T, c *cluster.Client, n *dnsNode, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = c.Call(ctx, "who", nil)
		return n.ran.Load() > 0
	}, eventually, 5*time.Millisecond, msg)
}

// The masters an SRV name lists all take calls, in equal shares.
func TestDNSSRVSpreadsOverMasters(t *testing.T) {
	s := startDNS(t)
	a, b, cc := startDNSNode(t, "a"), startDNSNode(t, "b"), startDNSNode(t, "c")
	publish(s, a.srv(10, 1), b.srv(10, 1), cc.srv(10, 1))
	c := dnsClient(t, s, &cluster.DNS{Name: srvName, SRV: true})
	got := shares(t, c, 300)
	t.Logf("shares: %v", got)
	for _, n := range []string{"a", "b", "c"} {
		assert.InDelta(t, 100, got[n], 20, n)
	}
	assert.Equal(t, addrs(a, b, cc), members(c))
}

// A and AAAA records: every address of the name, with the port of the
// name: one master on 127.0.0.1 and one on [::1], both on the same port.
func TestDNSAAndAAAARecords(t *testing.T) {
	s := startDNS(t)
	v4 := startDNSNode(t, "v4")
	name := "both.orders.test."
	nodes := []*dnsNode{v4}
	ips := []string{"127.0.0.1"}
	if ln, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(int(v4.port)))); err != nil {
		t.Logf("no IPv6 loopback on port %d (%v): A records only", v4.port, err)
	} else {
		v6 := newDNSNode(t, "v6")
		go func() { _ = v6.m.Serve(context.Background(), ln) }()
		t.Cleanup(func() { _ = v6.m.Close() })
		v6.setAddr(t, ln.Addr().String())
		nodes = append(nodes, v6)
		ips = append(ips, "::1")
	}
	s.setAddrs(name, ips...)
	c := dnsClient(t, s, &cluster.DNS{Name: net.JoinHostPort(name, strconv.Itoa(int(v4.port)))})
	got := shares(t, c, 200)
	t.Logf("shares: %v", got)
	for _, n := range nodes {
		assert.InDelta(t, 200/len(nodes), got[n.name], 30, n.name)
	}
	want := addrs(nodes...)
	assert.Equal(t, want, members(c))
	if len(nodes) == 2 {
		assert.Contains(t, want, "[::1]:"+strconv.Itoa(int(v4.port)))
	}
}

// Records added are masters within the interval; records removed stop
// taking calls.
func TestDNSFollowsRecordChanges(t *testing.T) {
	s := startDNS(t)
	a, b, cc := startDNSNode(t, "a"), startDNSNode(t, "b"), startDNSNode(t, "c")
	publish(s, a.srv(10, 1), b.srv(10, 1))
	c := dnsClient(t, s, &cluster.DNS{Name: srvName, SRV: true, Interval: module.Duration(100 * time.Millisecond)})
	got := shares(t, c, 20)
	assert.Equal(t, map[string]int{"a": 10, "b": 10}, got)

	publish(s, a.srv(10, 1), b.srv(10, 1), cc.srv(10, 1))
	waitCalls(t, c, cc, "the master added takes calls")
	assert.Equal(t, addrs(a, b, cc), members(c))

	publish(s, b.srv(10, 1), cc.srv(10, 1))
	require.Eventually(t, func() bool { return !slices.Contains(members(c), a.addr) }, eventually, 5*time.Millisecond,
		"the master removed is dropped")
	before := a.ran.Load()
	got = shares(t, c, 40)
	assert.Equal(t, before, a.ran.Load(), "the master removed takes no calls")
	assert.Equal(t, map[string]int{"b": 20, "c": 20}, got)
}

// SRV weights share the calls out in proportion (round_robin is
// weighted), 0 counting as 1; a record of a higher priority takes none
// while one of the lowest has an address, and all once they are gone.
func TestDNSSRVWeightsAndPriorities(t *testing.T) {
	s := startDNS(t)
	a, b, cc, d := startDNSNode(t, "a"), startDNSNode(t, "b"), startDNSNode(t, "c"), startDNSNode(t, "d")
	publish(s, a.srv(10, 1), b.srv(10, 3), cc.srv(10, 0), d.srv(20, 50))
	c := dnsClient(t, s, &cluster.DNS{Name: srvName, SRV: true, Interval: module.Duration(100 * time.Millisecond)})
	got := shares(t, c, 500)
	t.Logf("shares: %v", got)
	assert.InDelta(t, 100, got["a"], 30)
	assert.InDelta(t, 300, got["b"], 30)
	assert.InDelta(t, 100, got["c"], 30)
	assert.Zero(t, got["d"], "priority 20 is for when priority 10 has no master")

	publish(s, d.srv(20, 50))
	waitCalls(t, c, d, "with priority 10 gone, priority 20 takes the calls")
	require.Eventually(t, func() bool { return slices.Equal(members(c), addrs(d)) }, eventually, 5*time.Millisecond)
}

// Trouble with the DNS server (SERVFAIL, no answer, NXDOMAIN, no records,
// the server gone) keeps the last list: calls go on as before.
func TestDNSServerTroubleKeepsTheList(t *testing.T) {
	s := startDNS(t)
	a, b, cc := startDNSNode(t, "a"), startDNSNode(t, "b"), startDNSNode(t, "c")
	publish(s, a.srv(10, 1), b.srv(10, 1))
	c := dnsClient(t, s, &cluster.DNS{Name: srvName, SRV: true,
		Interval: module.Duration(100 * time.Millisecond), Timeout: module.Duration(300 * time.Millisecond)})
	_ = shares(t, c, 10)
	want := addrs(a, b)

	for name, trouble := range map[string]func(){
		"SERVFAIL":   func() { s.setMode(dnsServFail) },
		"no answer":  func() { s.setMode(dnsSilent) },
		"NXDOMAIN":   func() { s.remove(srvName) },
		"no records": func() { s.setAddrs(srvName, "127.0.0.9") }, // an A record only: no SRV
	} {
		trouble()
		n := s.queriesFor(srvName)
		require.Eventually(t, func() bool { return s.queriesFor(srvName) >= n+3 }, eventually, 5*time.Millisecond,
			"%s: the client keeps asking", name)
		got := shares(t, c, 40)
		assert.Equal(t, map[string]int{"a": 20, "b": 20}, got, name)
		assert.Equal(t, want, members(c), name)
		s.setMode(dnsAnswer)
		publish(s, a.srv(10, 1), b.srv(10, 1))
	}

	// Once the server answers again, changes are seen again.
	publish(s, a.srv(10, 1), b.srv(10, 1), cc.srv(10, 1))
	waitCalls(t, c, cc, "the master added after the trouble takes calls")

	s.stop()
	time.Sleep(500 * time.Millisecond) // a few failed looks
	got := shares(t, c, 30)
	assert.Equal(t, map[string]int{"a": 10, "b": 10, "c": 10}, got, "the server gone")
	assert.Equal(t, addrs(a, b, cc), members(c))
}

// With an interval of an hour, a master that dies while the records
// moved to a new one is found soon: ejecting the dead master makes the
// resolver look again (Refresh).
func TestDNSRefreshFindsMovedMasters(t *testing.T) {
	s := startDNS(t)
	a, b, cc := startDNSNode(t, "a"), startDNSNode(t, "b"), startDNSNode(t, "c")
	publish(s, a.srv(10, 1), b.srv(10, 1))
	c := dnsClient(t, s, &cluster.DNS{Name: srvName, SRV: true, Interval: module.Duration(time.Hour)})
	_ = shares(t, c, 10)
	looks := s.queriesFor(srvName)

	publish(s, b.srv(10, 1), cc.srv(10, 1))
	require.NoError(t, a.m.Close())
	waitCalls(t, c, cc, "the new master is found after the dead one was ejected")
	require.Eventually(t, func() bool { return slices.Equal(members(c), addrs(b, cc)) }, eventually, 5*time.Millisecond)
	assert.Greater(t, s.queriesFor(srvName), looks)
	got := shares(t, c, 20)
	assert.Equal(t, map[string]int{"b": 10, "c": 10}, got)
}

// An answer too big for UDP is fetched over TCP; the addresses several
// records give are one master each, with the sum of their weights.
func TestDNSTruncatedAnswerOverTCP(t *testing.T) {
	s := startDNS(t)
	nodes := []*dnsNode{startDNSNode(t, "a"), startDNSNode(t, "b"), startDNSNode(t, "c")}
	var recs []srvRecord
	for _, n := range nodes {
		for k := range 20 {
			recs = append(recs, srvRecord{target: fmt.Sprintf("%s-%d.big.orders.test.", n.name, k), port: n.port, priority: 10, weight: 1})
		}
	}
	publish(s, recs...)
	c := dnsClient(t, s, &cluster.DNS{Name: srvName, SRV: true})
	got := shares(t, c, 300)
	t.Logf("shares: %v", got)
	for _, n := range nodes {
		assert.InDelta(t, 100, got[n.name], 20, n.name)
	}
	assert.Equal(t, addrs(nodes...), members(c))
	assert.Positive(t, s.tcpQueries.Load(), "the truncated answer was asked for again over TCP")
}

// Closing a client leaves no goroutine behind, even while a look hangs
// on a server that does not answer.
func TestDNSClientCloseLeavesNoGoroutines(t *testing.T) {
	s := startDNS(t)
	a, b := startDNSNode(t, "a"), startDNSNode(t, "b")
	publish(s, a.srv(10, 1), b.srv(10, 1))
	round := func() {
		c := dnsClient(t, s, &cluster.DNS{Name: srvName, SRV: true, Interval: module.Duration(10 * time.Millisecond)})
		got := shares(t, c, 20)
		assert.Equal(t, map[string]int{"a": 10, "b": 10}, got)
		closeBounded(t, c)
	}
	round() // the masters start what they run once they have had a connection
	require.Eventually(t, func() bool { return len(clientGoroutines()) == 0 }, eventually, 10*time.Millisecond)
	base := runtime.NumGoroutine()
	for range 3 {
		round()
	}

	s.setMode(dnsSilent)
	n := s.queriesFor(srvName)
	c := dnsClient(t, s, &cluster.DNS{Name: srvName, SRV: true, Timeout: module.Duration(time.Hour)})
	require.Eventually(t, func() bool { return s.queriesFor(srvName) > n }, eventually, 5*time.Millisecond)
	closeBounded(t, c) // mid-look

	// (+1: Eventually runs the condition in a goroutine of its own.)
	ok := assert.Eventually(t, func() bool { return len(clientGoroutines()) == 0 && runtime.NumGoroutine() <= base+1 }, eventually, 10*time.Millisecond,
		"goroutines: %d after the first client", base)
	if !ok {
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Logf("goroutines now: %d\n%s", runtime.NumGoroutine(), buf.String())
	}
}

// clientGoroutines returns the stacks of the goroutines running code of
// a client: the cluster and slave packages, and the resolver of package
// net.
func clientGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, mark := range []string{"FastRpc/cluster.", "FastRpc/slave.", "FastRpc/poolimpl", "net.(*Resolver)"} {
			if strings.Contains(g, mark) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

func closeBounded(t *testing.T, c *cluster.Client) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(dnsHang):
		t.Fatal("Close did not return")
	}
}
