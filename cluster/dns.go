package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/module"
)

func init() {
	module.Register(new(DNS))
}

var (
	_ ResolverModule = (*DNS)(nil)
	_ Refresher      = (*DNS)(nil)
)

// Defaults of DNS.
const (
	// DefaultDNSInterval is how often DNS looks again. It is how long
	// CoreDNS, the DNS server of Kubernetes, caches answers by default
	// (its "cache 30"): looking more often mostly gets the same answer.
	// A master that goes away is noticed sooner anyway: the client's
	// ejection of it makes DNS look again (Refresh).
	DefaultDNSInterval = 30 * time.Second
	// DefaultDNSTimeout bounds one look, every query it makes included:
	// the default timeout of resolv.conf.
	DefaultDNSTimeout = 5 * time.Second
)

// Tuning of DNS that its config does not expose.
const (
	// dnsRetryBase is the wait after a failed look; it doubles with each
	// failure in a row, up to the interval.
	dnsRetryBase = time.Second
	// dnsRefreshGap is the least time between the starts of a look and of
	// one that Refresh asked for.
	dnsRefreshGap = time.Second
	// dnsTargetLookups is how many SRV targets one look resolves at once.
	dnsTargetLookups = 8
)

// DNS is the "resolver.dns" module: the masters are the addresses a DNS
// name has, looked up again every Interval and soon after the client
// ejects a master whose dials or connections failed (Refresh), the way a
// Kubernetes headless service is consumed.
//
//	{"module": "dns", "name": "orders.default.svc.cluster.local.:10000"}
//	{"module": "dns", "name": "_fastrpc._tcp.orders.example.com.", "srv": true, "interval": "10s"}
//
// Without SRV, Name is host:port, and the masters are every A and AAAA
// address of the host, each with the port. With SRV, Name is looked up for
// SRV records, and each target of the records of the lowest priority is
// looked up for its A and AAAA addresses: each address is a master with
// the record's port and weight (0 counts as 1; an address that several
// records give gets the sum of their weights). The next priority is used
// only when no target of the lowest has an address: SRV priorities are
// for failover, and a master that is down but still listed is left out by
// the client's ejection. Targets are resolved here rather than handed to
// the slaves as host names so that a target whose address changed is a
// new master at the next look, and so that every query goes to Server
// when it is set.
//
// The endpoints are IP:port addresses, sorted (IPv4 before IPv6) and
// without duplicates; update is called when they change, not on every
// look. A look that fails (a timeout, SERVFAIL, a server that is down)
// keeps the last list and is made again sooner: after a second, doubling
// up to Interval. An answer with no address at all (NXDOMAIN, no records)
// is reported only while nothing else was, so that calls fail at once with
// ErrNoMasters instead of waiting for a first list; once masters were
// reported it counts as a failed look and the last list is kept, since an
// empty list would make the client drop every master and fail every call
// over what may be a DNS glitch, or a headless service whose pods all
// failed their readiness checks for a moment, while masters that really
// are gone just fail their dials and are ejected. To take every master
// away, close the client rather than emptying the name.
//
// A name without a trailing dot may have the search domains of
// resolv.conf tried first (Kubernetes sets ndots:5): end it with "." to
// look it up as it is. Hosts files are read first, as net.Resolver does.
//
// A DNS is used by pointer; one may serve several Watch calls at once,
// and Refresh makes each of them look again.
type DNS struct {
	// Name is what is looked up: host:port for A and AAAA records, such as
	// "orders.default.svc.cluster.local.:10000", or with SRV a name such
	// as "_fastrpc._tcp.orders.example.com.", without a port.
	Name string `json:"name"`
	// SRV looks Name up for SRV records, which give each master's port
	// and weight.
	SRV bool `json:"srv,omitempty"`
	// Server is the DNS server to ask (host:port, such as
	// "10.96.0.10:53") instead of those of the system (resolv.conf). It
	// is asked over UDP, and over TCP when an answer is truncated.
	Server string `json:"server,omitempty"`
	// Interval is how often Name is looked up again; 0 means
	// DefaultDNSInterval.
	Interval module.Duration `json:"interval,omitempty"`
	// Timeout bounds one look, every query it makes included; 0 means
	// DefaultDNSTimeout.
	Timeout module.Duration `json:"timeout,omitempty"`

	// lookup replaces the resolver, in tests.
	lookup dnsLookup
	// retryBase and refreshGap replace dnsRetryBase and dnsRefreshGap
	// when set, in tests.
	retryBase, refreshGap time.Duration

	mu    sync.Mutex
	kicks map[chan struct{}]struct{} // one per running Watch
}

// dnsLookup is what DNS asks: a *net.Resolver.
type dnsLookup interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// FastRpcModule implements module.Module.
func (*DNS) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.ID(module.NamespaceResolver + ".dns"), New: func() module.Module { return new(DNS) }}
}

// Validate checks the name, the server and the durations.
func (d *DNS) Validate() error {
	switch {
	case d.Name == "":
		return errors.New(`name: empty; want host:port (A and AAAA records), or an SRV name with "srv": true`)
	case d.Interval < 0:
		return fmt.Errorf("interval %v: negative", d.Interval.D())
	case d.Timeout < 0:
		return fmt.Errorf("timeout %v: negative", d.Timeout.D())
	}
	if d.SRV {
		if strings.Contains(d.Name, ":") {
			return fmt.Errorf("name %q: an SRV name has no port (its records give the ports)", d.Name)
		}
	} else {
		host, port, err := net.SplitHostPort(d.Name)
		switch {
		case err != nil && strings.HasPrefix(d.Name, "_"):
			return fmt.Errorf(`name %q: an SRV name? Set "srv": true; without it the name is host:port`, d.Name)
		case err != nil:
			return fmt.Errorf(`name %q: %v; want host:port, or an SRV name with "srv": true`, d.Name, err)
		case host == "":
			return fmt.Errorf("name %q: no host", d.Name)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("name %q: port %q: want a number from 1 to 65535", d.Name, port)
		}
	}
	if d.Server != "" {
		if host, port, err := net.SplitHostPort(d.Server); err != nil || host == "" || port == "" {
			return fmt.Errorf(`server %q: want host:port, such as "10.96.0.10:53"`, d.Server)
		}
	}
	return nil
}

// Refresh implements Refresher: every running Watch looks again soon,
// but not sooner than a second after its last look began, so a burst of
// Refresh calls makes one look. It returns at once.
func (d *DNS) Refresh() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.kicks {
		select {
		case k <- struct{}{}:
		default: // a look is already due
		}
	}
}

// Watch implements Resolver: it looks Name up, reports the endpoints
// when they changed, and looks again after Interval, after a Refresh, or
// sooner after a failure (see DNS), until ctx ends. It returns an error
// other than ctx's only for an invalid config.
func (d *DNS) Watch(ctx context.Context, update func([]Endpoint)) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("fastrpc: resolver.dns: %w", err)
	}
	interval := cmp.Or(d.Interval.D(), DefaultDNSInterval)
	timeout := cmp.Or(d.Timeout.D(), DefaultDNSTimeout)
	retryBase := cmp.Or(d.retryBase, dnsRetryBase)
	gap := min(cmp.Or(d.refreshGap, dnsRefreshGap), interval)
	r := d.resolver()
	kick := d.addKick()
	defer d.removeKick(kick)

	var (
		last     []Endpoint
		reported bool
		failures int
	)
	for {
		started := time.Now()
		eps, err := d.lookBounded(ctx, r, timeout)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The first answer is reported, even with no address; later ones
		// when they changed and have an address.
		if err == nil && (!reported || len(eps) > 0 && !slices.Equal(eps, last)) {
			update(eps)
			last, reported = eps, true
		}
		wait := interval
		if err != nil || len(eps) == 0 {
			wait = min(retryBase<<min(failures, 30), interval)
			failures++
		} else {
			failures = 0
		}
		if !waitDNS(ctx, kick, time.Now().Add(wait), started.Add(gap)) {
			return ctx.Err()
		}
	}
}

// waitDNS waits until due, or after a kick until soonest if that is
// earlier, and reports true; it reports false when ctx ends first.
func waitDNS(ctx context.Context, kick <-chan struct{}, due, soonest time.Time) bool {
	t := time.NewTimer(time.Until(due))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-kick:
			if soonest.Before(due) {
				due = soonest
				t.Reset(time.Until(due))
			}
		}
	}
}

func (d *DNS) addKick() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kicks == nil {
		d.kicks = map[chan struct{}]struct{}{}
	}
	k := make(chan struct{}, 1)
	d.kicks[k] = struct{}{}
	return k
}

func (d *DNS) removeKick(k chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.kicks, k)
}

// resolver returns what d asks: the system's resolver, or one sending
// every query to Server.
func (d *DNS) resolver() dnsLookup {
	switch {
	case d.lookup != nil:
		return d.lookup
	case d.Server == "":
		return net.DefaultResolver
	}
	server := d.Server
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, network, server) // "udp", or "tcp" after a truncated answer
		if err != nil {
			return nil, err
		}
		// The resolver bounds its reads by ctx's deadline only: closing
		// the connection ends a query at once when ctx is cancelled. (c is
		// returned as it is: the resolver speaks UDP to a net.PacketConn.)
		context.AfterFunc(ctx, func() { _ = c.Close() })
		return c, nil
	}}
}

// lookBounded is look within timeout; it returns when ctx ends or the
// timeout passes even if the look does not (it then finishes on its own).
func (d *DNS) lookBounded(ctx context.Context, r dnsLookup, timeout time.Duration) ([]Endpoint, error) {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		eps []Endpoint
		err error
	}
	done := make(chan result, 1)
	go func() {
		eps, err := d.look(lctx, r)
		done <- result{eps, err}
	}()
	select {
	case res := <-done:
		return res.eps, res.err
	case <-lctx.Done():
		select {
		case res := <-done: // done at the same time
			return res.eps, res.err
		default:
			return nil, lctx.Err()
		}
	}
}

// look makes one look: the endpoints (none when the name has no address),
// or an error when the answer is not known.
func (d *DNS) look(ctx context.Context, r dnsLookup) ([]Endpoint, error) {
	found := map[netip.AddrPort]int{} // address → weight
	if !d.SRV {
		host, p, _ := net.SplitHostPort(d.Name) // Validate checked it
		port, _ := strconv.ParseUint(p, 10, 16)
		addrs, err := lookupAddrs(ctx, r, host)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			found[netip.AddrPortFrom(a, uint16(port))] = 1
		}
		return sortEndpoints(found), nil
	}
	_, srvs, err := r.LookupSRV(ctx, "", "", d.Name)
	if len(srvs) == 0 { // (with records, err is only about others that were malformed)
		if err != nil && !isNotFound(err) {
			return nil, err
		}
		return nil, nil
	}
	slices.SortStableFunc(srvs, func(a, b *net.SRV) int { return cmp.Compare(a.Priority, b.Priority) })
	for len(srvs) > 0 {
		n := 1
		for n < len(srvs) && srvs[n].Priority == srvs[0].Priority {
			n++
		}
		group := srvs[:n]
		srvs = srvs[n:]
		addrs, err := lookupTargets(ctx, r, group)
		if err != nil {
			return nil, err
		}
		for _, s := range group {
			if !usableSRV(s) {
				continue
			}
			for _, a := range addrs[s.Target] {
				found[netip.AddrPortFrom(a, s.Port)] += max(int(s.Weight), 1)
			}
		}
		if len(found) > 0 {
			break
		}
	}
	return sortEndpoints(found), nil
}

// lookupTargets resolves the targets of SRV records, a few at a time. A
// target with no address has none in the map; any other failure fails
// the whole look.
func lookupTargets(ctx context.Context, r dnsLookup, srvs []*net.SRV) (map[string][]netip.Addr, error) {
	var targets []string
	for _, s := range srvs {
		if usableSRV(s) && !slices.Contains(targets, s.Target) {
			targets = append(targets, s.Target)
		}
	}
	var (
		mu    sync.Mutex
		out   = map[string][]netip.Addr{}
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, dnsTargetLookups)
	)
	for _, t := range targets {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			addrs, err := lookupAddrs(ctx, r, t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmp.Or(first, err)
			} else {
				out[t] = addrs
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// usableSRV reports whether s names a master: a target "." means the
// service is not there, and port 0 is not a port.
func usableSRV(s *net.SRV) bool {
	return s.Target != "." && s.Target != "" && s.Port != 0
}

// lookupAddrs returns host's addresses, none when it has none (NXDOMAIN,
// no records).
func lookupAddrs(ctx context.Context, r dnsLookup, host string) ([]netip.Addr, error) {
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip.IP); ok {
			out = append(out, a.Unmap().WithZone(ip.Zone))
		}
	}
	return out, nil
}

// isNotFound reports whether err says the name has no such record.
func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// sortEndpoints returns found as endpoints in address order.
func sortEndpoints(found map[netip.AddrPort]int) []Endpoint {
	if len(found) == 0 {
		return nil
	}
	addrs := make([]netip.AddrPort, 0, len(found))
	for a := range found {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.AddrPort.Compare)
	eps := make([]Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = Endpoint{Address: a.String(), Weight: found[a]}
	}
	return eps
}
