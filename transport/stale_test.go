//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package transport_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/transport"
)

// eventually bounds waiting for a TCP event (FIN, RST, data) to arrive.
const eventually = 5 * time.Second

// tlsVariants runs f for TLS 1.2 and 1.3, each with and without a client
// certificate, with a master listener and a matching slave dialer.
func tlsVariants(t *testing.T, f func(t *testing.T, l conn.Listener, d conn.Dialer)) {
	p := newPKI(t)
	client, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	require.NoError(t, err)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, mutual := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/mutual=%v", tls.VersionName(version), mutual), func(t *testing.T) {
				l := &transport.TLSListener{Address: "127.0.0.1:0", CertFile: p.serverCert, KeyFile: p.serverKey}
				cfg := &tls.Config{RootCAs: p.ca.Pool(), MaxVersion: version}
				if mutual {
					l.ClientCAFile = p.caFile
					cfg.Certificates = []tls.Certificate{client}
				}
				f(t, l, &transport.TLSDialer{TLSConfig: cfg})
			})
		}
	}
}

// An idle TLS connection is not stale, TLS 1.3 session tickets and all;
// once the master closes it, it is.
func TestTLSStaleWhenMasterCloses(t *testing.T) {
	tlsVariants(t, func(t *testing.T, l conn.Listener, d conn.Dialer) {
		m, addr := serve(t, l, master.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		c, err := conn.Dial(ctx, d, "tcp", addr, conn.DialConfig{})
		require.NoError(t, err)
		defer c.Close()

		assert.False(t, c.Stale(), "just dialled")
		time.Sleep(100 * time.Millisecond) // for anything still in flight to arrive
		assert.False(t, c.Stale(), "idle and healthy")

		require.NoError(t, m.Close())
		require.Eventually(t, c.Stale, eventually, time.Millisecond, "the master closed it")
	})
}

// A stopping master's notice on an idle connection makes it stale.
func TestTLSStaleWhenMasterShutsDown(t *testing.T) {
	tlsVariants(t, func(t *testing.T, l conn.Listener, d conn.Dialer) {
		m, addr := serve(t, l, master.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		c, err := conn.Dial(ctx, d, "tcp", addr, conn.DialConfig{})
		require.NoError(t, err)
		defer c.Close()
		assert.False(t, c.Stale())

		go func() { _ = m.Shutdown(ctx) }()
		require.Eventually(t, c.Stale, eventually, time.Millisecond, "the master's notice arrived")
	})
}

// A slave reuses its idle TLS connection: a few calls, a pause, and the
// next call goes over the same connection, not a new dial.
func TestTLSIdleConnectionReused(t *testing.T) {
	tlsVariants(t, func(t *testing.T, l conn.Listener, d conn.Dialer) {
		_, addr := serve(t, l, master.Config{})
		s := newSlave(t, d, addr)
		for range 3 {
			requireEcho(t, s)
		}
		time.Sleep(100 * time.Millisecond)
		requireEcho(t, s)
		st := s.PoolStats()
		assert.EqualValues(t, 1, st.Dials, "no redial")
		assert.Zero(t, st.Stale, "the idle connection was not taken for stale")
	})
}

// When the master closes an idle TLS connection (its idle timeout), the
// slave notices before using it, and the call goes over a new one.
func TestTLSStaleConnectionReplaced(t *testing.T) {
	tlsVariants(t, func(t *testing.T, l conn.Listener, d conn.Dialer) {
		_, addr := serve(t, l, master.Config{IdleTimeout: 50 * time.Millisecond})
		s := newSlave(t, d, addr)
		requireEcho(t, s)
		time.Sleep(300 * time.Millisecond) // the master closes the connection
		requireEcho(t, s)
		st := s.PoolStats()
		assert.EqualValues(t, 2, st.Dials)
		assert.EqualValues(t, 1, st.Stale, "found stale, not failed on")
	})
}
