package transport_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/transport"
)

// Every way a TLS connection can fail gives the slave a clear error, and
// the master goes on serving others: a slave connected before the failure
// and one connecting after it both get their calls through.
func TestTLSFailures(t *testing.T) {
	p := newPKI(t)
	serverAuth := func(t *testing.T) conn.Listener {
		return &transport.TLSListener{Address: "127.0.0.1:0", CertFile: p.serverCert, KeyFile: p.serverKey}
	}
	mutual := func(t *testing.T) conn.Listener {
		return &transport.TLSListener{Address: "127.0.0.1:0", CertFile: p.serverCert, KeyFile: p.serverKey,
			ClientCAFile: p.caFile, ClientAuth: transport.ClientAuthRequire}
	}
	goodClient := &transport.TLSDialer{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}
	stranger, err := tls.LoadX509KeyPair(p.strangerCert, p.strangerKey)
	require.NoError(t, err)
	tls12 := func(cfg *tls.Config) *tls.Config { cfg.MaxVersion = tls.VersionTLS12; return cfg }

	cases := []struct {
		name     string
		listener func(*testing.T) conn.Listener
		good     conn.Dialer // a dialer the master serves
		bad      conn.Dialer
		check    func(t *testing.T, err error)
	}{{
		name:     "slave does not trust the master's CA",
		listener: serverAuth, good: goodClient,
		bad: &transport.TLSDialer{CAFile: p.otherCAFile},
		check: func(t *testing.T, err error) {
			var unknown x509.UnknownAuthorityError
			require.ErrorAs(t, err, &unknown)
			assert.ErrorContains(t, err, "not signed by a CA in ca_file")
		},
	}, {
		name:     "master's name is not the one expected",
		listener: serverAuth, good: goodClient,
		bad: &transport.TLSDialer{CAFile: p.caFile, ServerName: "billing.internal"},
		check: func(t *testing.T, err error) {
			var hostname x509.HostnameError
			require.ErrorAs(t, err, &hostname)
			assert.ErrorContains(t, err, "set server_name")
		},
	}, {
		name: "master's certificate expired",
		listener: func(*testing.T) conn.Listener {
			return &transport.TLSListener{Address: "127.0.0.1:0", CertFile: p.expiredCert, KeyFile: p.expiredKey}
		},
		// Nobody who verifies gets through; one that does not verify
		// proves the master still serves.
		good: &transport.TLSDialer{TLSConfig: &tls.Config{InsecureSkipVerify: true}},
		bad:  &transport.TLSDialer{CAFile: p.caFile},
		check: func(t *testing.T, err error) {
			var invalid x509.CertificateInvalidError
			require.ErrorAs(t, err, &invalid)
			assert.Equal(t, x509.Expired, invalid.Reason)
			assert.ErrorContains(t, err, "expired")
		},
	}, {
		name:     "missing client certificate (TLS 1.3)",
		listener: mutual, good: goodClient,
		bad: &transport.TLSDialer{CAFile: p.caFile},
		check: func(t *testing.T, err error) {
			assert.ErrorContains(t, err, "remote error: tls: certificate required")
		},
	}, {
		name:     "missing client certificate (TLS 1.2)",
		listener: mutual, good: goodClient,
		bad: &transport.TLSDialer{TLSConfig: tls12(&tls.Config{RootCAs: p.ca.Pool()})},
		check: func(t *testing.T, err error) {
			// In TLS 1.2 the refusal comes within the handshake.
			assert.ErrorContains(t, err, "connecting to the master: remote error: tls: handshake failure")
		},
	}, {
		// A Go client holding only a certificate from a CA the master
		// does not name sends none.
		name:     "client certificate from another CA, not sent",
		listener: mutual, good: goodClient,
		bad: &transport.TLSDialer{CAFile: p.caFile, CertFile: p.strangerCert, KeyFile: p.strangerKey},
		check: func(t *testing.T, err error) {
			assert.ErrorContains(t, err, "remote error: tls: certificate required")
		},
	}, {
		name:     "client certificate from another CA, sent anyway",
		listener: mutual, good: goodClient,
		bad: &transport.TLSDialer{TLSConfig: &tls.Config{RootCAs: p.ca.Pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &stranger, nil }}},
		check: func(t *testing.T, err error) {
			assert.ErrorContains(t, err, "remote error: tls: unknown certificate authority")
		},
	}, {
		name:     "expired client certificate",
		listener: mutual, good: goodClient,
		bad: &transport.TLSDialer{CAFile: p.caFile, CertFile: p.expiredClient, KeyFile: p.expiredCKey},
		check: func(t *testing.T, err error) {
			assert.ErrorContains(t, err, "remote error: tls: expired certificate")
		},
	}, {
		name: "master requires TLS 1.3, slave offers 1.2",
		listener: func(*testing.T) conn.Listener {
			return &transport.TLSListener{Address: "127.0.0.1:0", CertFile: p.serverCert, KeyFile: p.serverKey, MinVersion: "1.3"}
		},
		good: goodClient,
		bad:  &transport.TLSDialer{TLSConfig: tls12(&tls.Config{RootCAs: p.ca.Pool()})},
		check: func(t *testing.T, err error) {
			assert.ErrorContains(t, err, "protocol version")
		},
	}, {
		name:     "plain TCP slave, TLS master",
		listener: serverAuth, good: goodClient,
		bad: &transport.TCPDialer{},
		check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, frame.ErrBadMagic)
			// The master answered with a TLS alert record.
			assert.ErrorContains(t, err, `got "\x15\x03`)
		},
	}, {
		name: "TLS slave, plain master",
		listener: func(*testing.T) conn.Listener {
			return &transport.TCPListener{Address: "127.0.0.1:0"}
		},
		good: &transport.TCPDialer{},
		bad:  &transport.TLSDialer{CAFile: p.caFile},
		check: func(t *testing.T, err error) {
			var header tls.RecordHeaderError
			require.ErrorAs(t, err, &header)
			assert.ErrorContains(t, err, "speaks plain FastRpc, not TLS")
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := serve(t, tc.listener(t), master.Config{})
			before := newSlave(t, tc.good, addr)
			requireEcho(t, before)

			err := dialErr(t, tc.bad, addr)
			t.Logf("slave's error: %v", err)
			assert.False(t, errors.Is(err, slave.ErrDialBackoff), "a real dial failed")
			tc.check(t, err)

			requireEcho(t, before)
			requireEcho(t, newSlave(t, tc.good, addr))
		})
	}
}
