package clustertest

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsHang bounds the waits that only keep a broken test from hanging.
const dnsHang = 10 * time.Second

// dnsMode is how testDNS answers.
type dnsMode int

const (
	// dnsAnswer answers from the records: NXDOMAIN for a name it has
	// none of, an empty answer for a name with records of other types.
	dnsAnswer dnsMode = iota
	// dnsServFail answers every query with SERVFAIL.
	dnsServFail
	// dnsSilent reads the queries and answers none, as a server that
	// hangs.
	dnsSilent
)

// testDNS is an authoritative DNS server on 127.0.0.1 for the tests,
// serving the same port over UDP (truncating answers to the size the
// query allows, so that big ones go over TCP) and TCP. Its records can be
// replaced at any time, and it counts the queries it gets.
type testDNS struct {
	// Addr is where it listens, for cluster.DNS.Server.
	Addr string

	mu       sync.Mutex
	records  map[string][]dns.RR // by lower-case name, with a final dot
	mode     dnsMode
	queries  map[string]int // by lower-case name
	udp, tcp *dns.Server
	stopped  bool

	tcpQueries atomic.Int64
}

// startDNS starts a testDNS with no records; it stops when the test ends.
func startDNS(t testing.TB) *testDNS {
	t.Helper()
	s := &testDNS{records: map[string][]dns.RR{}, queries: map[string]int{}}
	var (
		ln  net.Listener
		pc  net.PacketConn
		err error
	)
	for range 20 { // a free TCP port whose UDP twin is free as well
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatalf("test DNS server: listen: %v", err)
		}
		if pc, err = net.ListenPacket("udp", ln.Addr().String()); err == nil {
			break
		}
		_ = ln.Close()
	}
	if err != nil {
		t.Fatalf("test DNS server: no port free for both UDP and TCP: %v", err)
	}
	s.Addr = ln.Addr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	var served sync.WaitGroup
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		served.Add(1)
		go func() {
			defer served.Done()
			_ = srv.ActivateAndServe()
		}()
		select {
		case <-started:
		case <-time.After(dnsHang):
			t.Fatal("test DNS server did not start")
		}
	}
	t.Cleanup(func() {
		s.stop()
		done := make(chan struct{})
		go func() { served.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(dnsHang):
			t.Error("test DNS server did not stop")
		}
	})
	return s
}

// stop shuts the server down, as a DNS server that went away: its port
// then refuses queries. It cannot start again.
func (s *testDNS) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		ctx, cancel := context.WithTimeout(context.Background(), dnsHang)
		_ = srv.ShutdownContext(ctx)
		cancel()
	}
}

// setMode sets how the server answers from now on.
func (s *testDNS) setMode(m dnsMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// setAddrs makes ips (IPv4 or IPv6) the A and AAAA records of name,
// replacing its records of every type.
func (s *testDNS) setAddrs(name string, ips ...string) {
	var rrs []dns.RR
	for _, ip := range ips {
		a := net.ParseIP(ip)
		if a == nil {
			panic("test DNS server: not an IP: " + ip)
		}
		if v4 := a.To4(); v4 != nil {
			rrs = append(rrs, &dns.A{Hdr: header(name, dns.TypeA), A: v4})
		} else {
			rrs = append(rrs, &dns.AAAA{Hdr: header(name, dns.TypeAAAA), AAAA: a})
		}
	}
	s.set(name, rrs)
}

// srvRecord is one SRV record of testDNS.setSRV.
type srvRecord struct {
	target                 string
	port, priority, weight uint16
}

// setSRV makes recs the SRV records of name, replacing its records of
// every type.
func (s *testDNS) setSRV(name string, recs ...srvRecord) {
	var rrs []dns.RR
	for _, r := range recs {
		rrs = append(rrs, &dns.SRV{Hdr: header(name, dns.TypeSRV), Target: dns.Fqdn(r.target),
			Port: r.port, Priority: r.priority, Weight: r.weight})
	}
	s.set(name, rrs)
}

// remove deletes every record of name: it is NXDOMAIN from now on.
func (s *testDNS) remove(name string) { s.set(name, nil) }

func (s *testDNS) set(name string, rrs []dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(dns.Fqdn(name))
	if len(rrs) == 0 {
		delete(s.records, key)
	} else {
		s.records[key] = rrs
	}
}

// queriesFor returns how many queries for name the server got, answered
// or not, of every type and over both networks.
func (s *testDNS) queriesFor(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[strings.ToLower(dns.Fqdn(name))]
}

func header(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: dns.Fqdn(name), Rrtype: rrtype, Class: dns.ClassINET, Ttl: 1}
}

func (s *testDNS) serve(w dns.ResponseWriter, req *dns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	if !udp {
		s.tcpQueries.Add(1)
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.Compress = true
	s.mu.Lock()
	mode := s.mode
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		s.queries[name]++
		rrs, ok := s.records[name]
		if !ok {
			m.Rcode = dns.RcodeNameError
			continue
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
	}
	s.mu.Unlock()
	switch mode {
	case dnsSilent:
		return
	case dnsServFail:
		m = new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
	}
	if udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}
