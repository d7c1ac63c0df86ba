package cluster

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/module"
)

// dnsHang bounds the waits that only keep a broken test from hanging.
const dnsHang = 10 * time.Second

// fakeLookup answers DNS's lookups from maps the test changes, counting
// the lookups of DNS.Name and recording when each began. A host or name
// missing from the maps does not exist (NXDOMAIN).
type fakeLookup struct {
	mu     sync.Mutex
	ips    map[string][]string // host → addresses
	srvs   map[string][]*net.SRV
	fail   map[string]error // host or SRV name → the error its lookup fails with
	hang   chan struct{}    // when set, the next lookup of the name waits for it, ignoring its context
	starts []time.Time      // of the lookups of the name
	name   string           // the host or SRV name of DNS.Name
}

func newFake(name string) *fakeLookup {
	return &fakeLookup{ips: map[string][]string{}, srvs: map[string][]*net.SRV{}, fail: map[string]error{}, name: name}
}

func (f *fakeLookup) begin(name string) error {
	f.mu.Lock()
	hang := f.hang
	if name == f.name {
		f.starts = append(f.starts, time.Now())
		f.hang = nil
	} else {
		hang = nil
	}
	err := f.fail[name]
	f.mu.Unlock()
	if hang != nil {
		<-hang
	}
	return err
}

func (f *fakeLookup) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if err := f.begin(host); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	list, ok := f.ips[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range list {
		ip, zone, _ := strings.Cut(s, "%")
		out = append(out, net.IPAddr{IP: net.ParseIP(ip), Zone: zone})
	}
	return out, nil
}

func (f *fakeLookup) LookupSRV(_ context.Context, _, _, name string) (string, []*net.SRV, error) {
	if err := f.begin(name); err != nil {
		return "", nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	list, ok := f.srvs[name]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	out := make([]*net.SRV, len(list))
	for i, s := range list {
		c := *s
		out[i] = &c
	}
	return name, out, nil
}

func (f *fakeLookup) set(fn func(f *fakeLookup)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeLookup) looks() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts)
}

func (f *fakeLookup) start(i int) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts[i]
}

var errServFail = &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}

// watchDNS runs d.Watch until the test ends, sending each list it
// reports on the returned channel.
func watchDNS(t *testing.T, d *DNS) <-chan []Endpoint {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lists := make(chan []Endpoint, 100)
	done := make(chan error, 1)
	go func() { done <- d.Watch(ctx, func(eps []Endpoint) { lists <- eps }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, context.Canceled)
		case <-time.After(dnsHang):
			t.Error("Watch did not return after its context ended")
		}
	})
	return lists
}

func next(t *testing.T, lists <-chan []Endpoint) []Endpoint {
	t.Helper()
	select {
	case eps := <-lists:
		return eps
	case <-time.After(dnsHang):
		t.Fatal("no list reported")
		return nil
	}
}

func none(t *testing.T, lists <-chan []Endpoint) {
	t.Helper()
	select {
	case eps := <-lists:
		t.Fatalf("unexpected report %v", eps)
	default:
	}
}

func TestDNSValidate(t *testing.T) {
	for _, ok := range []*DNS{
		{Name: "orders.default.svc.cluster.local:10000"},
		{Name: "orders.test.:1", Server: "127.0.0.1:53", Interval: module.Duration(time.Second), Timeout: 1},
		{Name: "[::1]:80"},
		{Name: "_fastrpc._tcp.orders.test.", SRV: true, Server: "[::1]:53"},
	} {
		assert.NoError(t, ok.Validate(), "%+v", ok.Name)
	}
	for want, bad := range map[string]*DNS{
		"name: empty":                  {},
		`"srv": true; without it`:      {Name: "_fastrpc._tcp.orders.test."},
		"want host:port, or an SRV":    {Name: "orders.test"},
		"no host":                      {Name: ":80"},
		"want a number from 1 to 6553": {Name: "orders.test:http"},
		"port \"0\"":                   {Name: "orders.test:0"},
		"port \"65536\"":               {Name: "orders.test:65536"},
		"an SRV name has no port":      {Name: "_x._tcp.orders.test:80", SRV: true},
		"server \"10.0.0.1\"":          {Name: "a:1", Server: "10.0.0.1"},
		"server \":53\"":               {Name: "a:1", Server: ":53"},
		"interval -1s: negative":       {Name: "a:1", Interval: module.Duration(-time.Second)},
		"timeout -1ns: negative":       {Name: "a:1", Timeout: -1},
	} {
		err := bad.Validate()
		if assert.Error(t, err, want) {
			assert.Contains(t, err.Error(), want)
			assert.NotContains(t, err.Error(), "fastrpc:", "Validate's text is wrapped by the loader or Watch")
		}
	}
}

func TestDNSWatchRejectsAnInvalidConfig(t *testing.T) {
	d := &DNS{Name: "orders.test"}
	err := d.Watch(context.Background(), func([]Endpoint) { t.Error("no list is reported") })
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "fastrpc: resolver.dns: name \"orders.test\""), err.Error())
}

func TestDNSFromJSON(t *testing.T) {
	raw := []byte(`{"module": "dns", "name": "_fastrpc._tcp.orders.test.", "srv": true, "server": "127.0.0.1:1", "interval": "1h", "timeout": "250ms"}`)
	r, err := module.LoadAs[ResolverModule](module.NewLoader(context.Background()), module.NamespaceResolver, raw)
	require.NoError(t, err)
	assert.Equal(t, &DNS{Name: "_fastrpc._tcp.orders.test.", SRV: true, Server: "127.0.0.1:1",
		Interval: module.Duration(time.Hour), Timeout: module.Duration(250 * time.Millisecond)}, r)
	_, ok := r.(Refresher)
	assert.True(t, ok, "the client can ask it to look again")

	// A client from JSON; the only place it sends queries to is 127.0.0.1:1.
	c, err := FromJSON(context.Background(), []byte(`{"resolver": {"module": "dns", "name": "orders.test.:10000", "server": "127.0.0.1:1", "interval": "1h", "timeout": "100ms"}}`))
	require.NoError(t, err)
	require.NoError(t, c.Close())

	for name, doc := range map[string]string{
		"no name":       `{"resolver": {"module": "dns"}}`,
		"no port":       `{"resolver": {"module": "dns", "name": "orders.test."}}`,
		"unknown field": `{"resolver": {"module": "dns", "name": "orders.test.:1", "ttl": "1s"}}`,
		"bad interval":  `{"resolver": {"module": "dns", "name": "orders.test.:1", "interval": "often"}}`,
		"bad server":    `{"resolver": {"module": "dns", "name": "orders.test.:1", "server": "nowhere"}}`,
	} {
		_, err := FromJSON(context.Background(), []byte(doc))
		if assert.Error(t, err, name) {
			assert.Equal(t, 1, strings.Count(err.Error(), "fastrpc:"), "%s: %v", name, err)
			assert.Contains(t, err.Error(), "resolver.dns", name)
		}
	}
}

// A and AAAA: every address, with the port of the name, sorted, IPv4
// before IPv6, without duplicates.
func TestDNSAddressEndpoints(t *testing.T) {
	f := newFake("orders.test.")
	f.ips["orders.test."] = []string{"::1", "127.0.0.2", "127.0.0.1", "::ffff:127.0.0.1", "fe80::1%eth0", "10.0.0.1"}
	d := &DNS{Name: "orders.test.:9000", lookup: f}
	eps, err := d.look(context.Background(), f)
	require.NoError(t, err)
	assert.Equal(t, []Endpoint{
		{Address: "10.0.0.1:9000", Weight: 1},
		{Address: "127.0.0.1:9000", Weight: 1},
		{Address: "127.0.0.2:9000", Weight: 1},
		{Address: "[::1]:9000", Weight: 1},
		{Address: "[fe80::1%eth0]:9000", Weight: 1},
	}, eps)

	f.set(func(f *fakeLookup) { delete(f.ips, "orders.test.") })
	eps, err = d.look(context.Background(), f)
	require.NoError(t, err, "NXDOMAIN is an answer")
	assert.Empty(t, eps)

	f.set(func(f *fakeLookup) { f.fail["orders.test."] = errServFail })
	_, err = d.look(context.Background(), f)
	assert.ErrorIs(t, err, errServFail)
}

// SRV: the records of the lowest priority with an address, each target's
// addresses with the record's port and weight (0 counts as 1), weights of
// an address listed twice added up.
func TestDNSSRVEndpoints(t *testing.T) {
	const name = "_fastrpc._tcp.orders.test."
	f := newFake(name)
	f.srvs[name] = []*net.SRV{
		{Target: "z.test.", Port: 7000, Priority: 20, Weight: 100},
		{Target: "b.test.", Port: 2000, Priority: 10, Weight: 5},
		{Target: "a.test.", Port: 1000, Priority: 10, Weight: 0},
		{Target: "c.test.", Port: 1000, Priority: 10, Weight: 3}, // the same address as a.test.
		{Target: "gone.test.", Port: 3000, Priority: 10, Weight: 7},
		{Target: ".", Port: 4000, Priority: 10, Weight: 7},
		{Target: "a.test.", Port: 0, Priority: 10, Weight: 7},
	}
	f.ips["a.test."] = []string{"10.0.0.1"}
	f.ips["b.test."] = []string{"fd00::2", "10.0.0.2"}
	f.ips["c.test."] = []string{"10.0.0.1"}
	f.ips["z.test."] = []string{"10.0.0.26"}
	d := &DNS{Name: name, SRV: true}
	eps, err := d.look(context.Background(), f)
	require.NoError(t, err)
	assert.Equal(t, []Endpoint{
		{Address: "10.0.0.1:1000", Weight: 4},
		{Address: "10.0.0.2:2000", Weight: 5},
		{Address: "[fd00::2]:2000", Weight: 5},
	}, eps)

	// With no address at priority 10, priority 20 is used.
	f.set(func(f *fakeLookup) { delete(f.ips, "a.test."); delete(f.ips, "b.test."); delete(f.ips, "c.test.") })
	eps, err = d.look(context.Background(), f)
	require.NoError(t, err)
	assert.Equal(t, []Endpoint{{Address: "10.0.0.26:7000", Weight: 100}}, eps)

	// A target whose lookup failed fails the look: the list is not known.
	f.set(func(f *fakeLookup) { f.fail["z.test."] = errServFail })
	_, err = d.look(context.Background(), f)
	assert.ErrorIs(t, err, errServFail)

	f.set(func(f *fakeLookup) { delete(f.srvs, name) })
	eps, err = d.look(context.Background(), f)
	require.NoError(t, err)
	assert.Empty(t, eps)
}

// The list is reported when it changes, not on every look.
func TestDNSReportsChangesOnly(t *testing.T) {
	f := newFake("orders.test.")
	f.ips["orders.test."] = []string{"10.0.0.2", "10.0.0.1"}
	lists := watchDNS(t, &DNS{Name: "orders.test.:1", Interval: module.Duration(time.Millisecond), lookup: f})
	assert.Equal(t, []Endpoint{{Address: "10.0.0.1:1", Weight: 1}, {Address: "10.0.0.2:1", Weight: 1}}, next(t, lists))
	f.set(func(f *fakeLookup) { f.ips["orders.test."] = []string{"10.0.0.1", "10.0.0.2"} }) // the same, reordered
	n := f.looks()
	require.Eventually(t, func() bool { return f.looks() >= n+20 }, dnsHang, time.Millisecond)
	none(t, lists)
	f.set(func(f *fakeLookup) { f.ips["orders.test."] = []string{"10.0.0.1", "10.0.0.3"} })
	assert.Equal(t, []Endpoint{{Address: "10.0.0.1:1", Weight: 1}, {Address: "10.0.0.3:1", Weight: 1}}, next(t, lists))
}

// Failed looks and, once a list was reported, answers without an address
// keep the last list.
func TestDNSKeepsTheListOnFailuresAndEmptyAnswers(t *testing.T) {
	f := newFake("orders.test.")
	f.ips["orders.test."] = []string{"10.0.0.1"}
	lists := watchDNS(t, &DNS{Name: "orders.test.:1", Interval: module.Duration(time.Millisecond), lookup: f, retryBase: time.Millisecond})
	want := []Endpoint{{Address: "10.0.0.1:1", Weight: 1}}
	assert.Equal(t, want, next(t, lists))
	for _, broken := range []func(f *fakeLookup){
		func(f *fakeLookup) { f.fail["orders.test."] = errServFail },
		func(f *fakeLookup) { f.fail["orders.test."] = context.DeadlineExceeded },
		func(f *fakeLookup) { delete(f.ips, "orders.test.") },         // NXDOMAIN
		func(f *fakeLookup) { f.ips["orders.test."] = []string{} },    // no records
		func(f *fakeLookup) { f.ips["orders.test."] = []string{"x"} }, // nothing usable
	} {
		f.set(func(f *fakeLookup) { clear(f.fail); f.ips["orders.test."] = []string{"10.0.0.1"}; broken(f) })
		n := f.looks()
		require.Eventually(t, func() bool { return f.looks() >= n+5 }, dnsHang, time.Millisecond)
		none(t, lists)
	}
	f.set(func(f *fakeLookup) { clear(f.fail); f.ips["orders.test."] = []string{"10.0.0.2"} })
	assert.Equal(t, []Endpoint{{Address: "10.0.0.2:1", Weight: 1}}, next(t, lists))
}

// A failed look is made again long before the interval.
func TestDNSRetriesSoonerAfterAFailure(t *testing.T) {
	f := newFake("orders.test.")
	f.fail["orders.test."] = errServFail
	lists := watchDNS(t, &DNS{Name: "orders.test.:1", Interval: module.Duration(time.Hour), lookup: f, retryBase: time.Millisecond})
	require.Eventually(t, func() bool { return f.looks() >= 4 }, dnsHang, time.Millisecond, "backing off from 1ms, not waiting an hour")
	none(t, lists)
	f.set(func(f *fakeLookup) { clear(f.fail); f.ips["orders.test."] = []string{"10.0.0.1"} })
	assert.Equal(t, []Endpoint{{Address: "10.0.0.1:1", Weight: 1}}, next(t, lists))
}

// A first answer without an address is reported, so calls fail at once
// instead of waiting; it is looked at again sooner than the interval.
func TestDNSReportsAFirstEmptyAnswer(t *testing.T) {
	f := newFake("orders.test.")
	lists := watchDNS(t, &DNS{Name: "orders.test.:1", Interval: module.Duration(time.Hour), lookup: f, retryBase: time.Millisecond})
	assert.Empty(t, next(t, lists))
	require.Eventually(t, func() bool { return f.looks() >= 3 }, dnsHang, time.Millisecond)
	none(t, lists)
	f.set(func(f *fakeLookup) { f.ips["orders.test."] = []string{"10.0.0.1"} })
	assert.Equal(t, []Endpoint{{Address: "10.0.0.1:1", Weight: 1}}, next(t, lists))
}

// A burst of Refresh calls makes one look, not sooner than the gap after
// the last look began; Refresh returns at once, watched or not.
func TestDNSRefreshIsRateLimited(t *testing.T) {
	(&DNS{}).Refresh() // no Watch: nothing to do
	const gap = 200 * time.Millisecond
	f := newFake("orders.test.")
	f.ips["orders.test."] = []string{"10.0.0.1"}
	d := &DNS{Name: "orders.test.:1", Interval: module.Duration(time.Hour), lookup: f, refreshGap: gap}
	lists := watchDNS(t, d)
	next(t, lists)
	require.Equal(t, 1, f.looks())

	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				d.Refresh()
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return f.looks() == 2 }, dnsHang, time.Millisecond)
	time.Sleep(3 * gap) // any other look would have begun by now
	assert.Equal(t, 2, f.looks(), "a burst of Refresh calls makes one look")
	assert.GreaterOrEqual(t, f.start(1).Sub(f.start(0)), gap)

	f.set(func(f *fakeLookup) { f.ips["orders.test."] = []string{"10.0.0.2"} })
	d.Refresh()
	assert.Equal(t, []Endpoint{{Address: "10.0.0.2:1", Weight: 1}}, next(t, lists), "the look Refresh asked for reports")
	assert.GreaterOrEqual(t, f.start(2).Sub(f.start(1)), gap)
}

// Refresh reaches every Watch running on the DNS.
func TestDNSRefreshReachesEveryWatch(t *testing.T) {
	f := newFake("orders.test.")
	f.ips["orders.test."] = []string{"10.0.0.1"}
	d := &DNS{Name: "orders.test.:1", Interval: module.Duration(time.Hour), lookup: f, refreshGap: time.Millisecond}
	one, two := watchDNS(t, d), watchDNS(t, d)
	next(t, one)
	next(t, two)
	f.set(func(f *fakeLookup) { f.ips["orders.test."] = []string{"10.0.0.2"} })
	d.Refresh()
	want := []Endpoint{{Address: "10.0.0.2:1", Weight: 1}}
	assert.Equal(t, want, next(t, one))
	assert.Equal(t, want, next(t, two))
}

// Watch returns when its context ends even while a look hangs and
// ignores its context; Timeout bounds a hanging look.
func TestDNSWatchEndsMidLook(t *testing.T) {
	f := newFake("orders.test.")
	f.ips["orders.test."] = []string{"10.0.0.1"}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.hang = release
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var reports atomic.Int64
	go func() {
		done <- (&DNS{Name: "orders.test.:1", lookup: f}).Watch(ctx, func([]Endpoint) { reports.Add(1) })
	}()
	require.Eventually(t, func() bool { return f.looks() == 1 }, dnsHang, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(dnsHang):
		t.Fatal("Watch did not return")
	}
	assert.Zero(t, reports.Load())

	// The first look hangs past the timeout: the next one reports.
	f.set(func(f *fakeLookup) { f.hang = release })
	lists := watchDNS(t, &DNS{Name: "orders.test.:1", Timeout: module.Duration(20 * time.Millisecond), lookup: f, retryBase: time.Millisecond})
	assert.Equal(t, []Endpoint{{Address: "10.0.0.1:1", Weight: 1}}, next(t, lists))
	assert.GreaterOrEqual(t, f.looks(), 3)
}

func TestDNSIsTheRegisteredModule(t *testing.T) {
	info, err := module.Lookup("resolver.dns")
	require.NoError(t, err)
	_, ok := info.New().(*DNS)
	assert.True(t, ok)
}
