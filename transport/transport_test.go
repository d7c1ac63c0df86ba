package transport_test

import (
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/transport"
)

// A slave over each dialer calls a master on the matching listener, both
// built from code and from JSON.
func TestSlaveOverEachTransport(t *testing.T) {
	p := newPKI(t)
	type setup struct {
		listener conn.Listener
		dialer   conn.Dialer
		// whoami is what the master's whoami method answers, "" for its
		// error (no verified client certificate).
		whoami string
	}
	const billing = "billing spiffe://example.org/billing"
	cases := map[string]func(t *testing.T) setup{
		"tcp/code": func(*testing.T) setup {
			return setup{&transport.TCPListener{Address: "127.0.0.1:0"}, &transport.TCPDialer{}, ""}
		},
		"tcp/json": func(t *testing.T) setup {
			return setup{
				loadListener(t, obj{"module": "tcp", "address": "127.0.0.1:0"}),
				loadDialer(t, obj{"module": "tcp", "timeout": "2s", "keep_alive": "10s", "local_address": "127.0.0.1"}),
				"",
			}
		},
		"unix/code": func(t *testing.T) setup {
			return setup{&transport.UnixListener{Path: sockPath(t), Mode: 0o600}, &transport.UnixDialer{}, ""}
		},
		"unix/json": func(t *testing.T) setup {
			return setup{
				loadListener(t, obj{"module": "unix", "path": sockPath(t), "mode": "0600", "remove_stale": true}),
				loadDialer(t, obj{"module": "unix", "timeout": "1s"}),
				"",
			}
		},
		"tls/code": func(t *testing.T) setup {
			server, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
			require.NoError(t, err)
			return setup{
				&transport.TLSListener{Address: "127.0.0.1:0", TLSConfig: &tls.Config{Certificates: []tls.Certificate{server}}},
				&transport.TLSDialer{TLSConfig: &tls.Config{RootCAs: p.ca.Pool()}},
				"",
			}
		},
		"tls/json": func(t *testing.T) setup {
			return setup{
				loadListener(t, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": p.serverCert, "key_file": p.serverKey}),
				loadDialer(t, obj{"module": "tls", "ca_file": p.caFile, "server_name": "localhost", "min_version": "1.3"}),
				"",
			}
		},
		"mtls/code": func(*testing.T) setup {
			return setup{
				&transport.TLSListener{Address: "127.0.0.1:0", CertFile: p.serverCert, KeyFile: p.serverKey,
					ClientCAFile: p.caFile, ClientAuth: transport.ClientAuthRequire},
				&transport.TLSDialer{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey},
				billing,
			}
		},
		"mtls/json": func(t *testing.T) setup {
			return setup{
				// client_auth left out: a client_ca_file means "require".
				loadListener(t, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": p.serverCert,
					"key_file": p.serverKey, "client_ca_file": p.caFile}),
				loadDialer(t, obj{"module": "tls", "ca_file": p.caFile, "cert_file": p.clientCert, "key_file": p.clientKey}),
				billing,
			}
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			_, addr := serve(t, c.listener, master.Config{})
			s := newSlave(t, c.dialer, addr)
			requireEcho(t, s)
			requireEcho(t, s)
			resp, err := s.Call(callCtx(t), "whoami", nil)
			if c.whoami == "" {
				require.ErrorIs(t, err, slave.ErrApplication)
				assert.ErrorContains(t, err, "no verified client certificate")
			} else {
				require.NoError(t, err)
				assert.Equal(t, c.whoami, string(resp))
			}
			assert.EqualValues(t, 1, s.PoolStats().Dials, "one connection carried every call")
		})
	}
}

// With client_auth "request", a client certificate is optional but
// verified when given.
func TestTLSClientAuthRequest(t *testing.T) {
	p := newPKI(t)
	_, addr := serve(t, loadListener(t, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": p.serverCert,
		"key_file": p.serverKey, "client_ca_file": p.caFile, "client_auth": "request"}), master.Config{})

	anonymous := newSlave(t, &transport.TLSDialer{CAFile: p.caFile}, addr)
	_, err := anonymous.Call(callCtx(t), "whoami", nil)
	require.ErrorIs(t, err, slave.ErrApplication, "served, without an identity")

	known := newSlave(t, &transport.TLSDialer{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}, addr)
	resp, err := known.Call(callCtx(t), "whoami", nil)
	require.NoError(t, err)
	assert.Equal(t, "billing spiffe://example.org/billing", string(resp))

	// A Go client sends a certificate only if its issuer is among the CAs
	// the master names; this one is not, so it goes anonymous.
	stranger := newSlave(t, &transport.TLSDialer{CAFile: p.caFile, CertFile: p.strangerCert, KeyFile: p.strangerKey}, addr)
	_, err = stranger.Call(callCtx(t), "whoami", nil)
	require.ErrorIs(t, err, slave.ErrApplication, "served, without an identity")

	// A certificate that is sent is verified.
	pair, err := tls.LoadX509KeyPair(p.strangerCert, p.strangerKey)
	require.NoError(t, err)
	insistent := &transport.TLSDialer{TLSConfig: &tls.Config{
		RootCAs:              p.ca.Pool(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil },
	}}
	err = dialErr(t, insistent, addr)
	assert.ErrorContains(t, err, "unknown certificate authority")
}

// PeerIdentity on a raw pair: the chain, and false for what is not a
// verified TLS peer.
func TestPeerIdentity(t *testing.T) {
	p := newPKI(t)
	server, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	require.NoError(t, err)
	client, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	require.NoError(t, err)

	for _, auth := range []tls.ClientAuthType{tls.RequireAndVerifyClientCert, tls.RequestClientCert} {
		a, b := tcpPair(t)
		_, ok := transport.PeerIdentity(a)
		assert.False(t, ok, "plain TCP")

		tc := tls.Client(a, &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{client}})
		ts := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: auth, ClientCAs: p.ca.Pool()})
		_, ok = transport.PeerIdentity(ts)
		assert.False(t, ok, "before the handshake")
		errc := make(chan error, 1)
		go func() { errc <- tc.Handshake() }()
		require.NoError(t, ts.Handshake())
		require.NoError(t, <-errc)

		id, ok := transport.PeerIdentity(ts)
		if auth == tls.RequestClientCert {
			assert.False(t, ok, "a certificate that was asked for but not verified is no identity")
		} else {
			require.True(t, ok)
			assert.Equal(t, "billing", id.CommonName)
			require.Len(t, id.URIs, 1)
			assert.Equal(t, "spiffe://example.org/billing", id.URIs[0].String())
			require.Len(t, id.Chain, 2)
			assert.Equal(t, p.ca.Cert.Raw, id.Chain[1].Raw, "the chain ends at the trusted CA")
		}

		// The slave's side sees the master's identity.
		id, ok = transport.PeerIdentity(tc)
		require.True(t, ok)
		assert.Equal(t, "localhost", id.CommonName)
		assert.Equal(t, []string{"localhost"}, id.DNSNames)
	}
}
