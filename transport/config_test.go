package transport_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/transport"
)

// Bad configs are errors naming the field, and what to write instead.
func TestConfigErrors(t *testing.T) {
	p := newPKI(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a certificate"), 0o600))

	cases := []struct {
		ns   string
		cfg  obj
		want []string
	}{
		{module.NamespaceDialer, obj{"module": "tcp", "timeout": "soon"}, []string{`"soon"`, "dialer.tcp"}},
		{module.NamespaceDialer, obj{"module": "tcp", "timeout": "-1s"}, []string{"timeout: must not be negative"}},
		{module.NamespaceDialer, obj{"module": "tcp", "local_address": "my-laptop"}, []string{`local_address "my-laptop"`, "IP address"}},
		{module.NamespaceDialer, obj{"module": "tcp", "keepalive": "1s"}, []string{`unknown field "keepalive"`}},
		{module.NamespaceDialer, obj{"module": "unix", "timeout": "-1s"}, []string{"timeout: must not be negative"}},
		{module.NamespaceDialer, obj{"module": "unix", "path": "/x"}, []string{`unknown field "path"`}},
		{module.NamespaceDialer, obj{"module": "tls", "cert_file": p.clientCert}, []string{"cert_file and key_file go together"}},
		{module.NamespaceDialer, obj{"module": "tls", "key_file": p.clientKey}, []string{"cert_file and key_file go together"}},
		{module.NamespaceDialer, obj{"module": "tls", "min_version": "1.1"}, []string{`min_version "1.1": use "1.2" or "1.3"`}},
		{module.NamespaceDialer, obj{"module": "tls", "insecure_skip_verify": true}, []string{`unknown field "insecure_skip_verify"`}},
		{module.NamespaceDialer, obj{"module": "tls", "TLSConfig": obj{}}, []string{`unknown field "TLSConfig"`}},
		{module.NamespaceDialer, obj{"module": "tls", "ca_file": "/nonexistent/ca.pem"}, []string{"ca_file", "/nonexistent/ca.pem", "no such file"}},
		{module.NamespaceDialer, obj{"module": "tls", "ca_file": garbage}, []string{"ca_file", "no PEM certificate"}},
		{module.NamespaceDialer, obj{"module": "tls", "cert_file": p.clientCert, "key_file": p.serverKey}, []string{"cert_file", "key_file", "private key does not match"}},
		{module.NamespaceDialer, obj{"module": "quic"}, []string{`fastrpc: module "dialer.quic" not registered; known in namespace "dialer": dialer.tcp, dialer.tls, dialer.unix`}},

		{module.NamespaceListener, obj{"module": "tcp"}, []string{"address is required"}},
		{module.NamespaceListener, obj{"module": "tcp", "address": "10000"}, []string{`address "10000": want host:port`}},
		{module.NamespaceListener, obj{"module": "unix"}, []string{"path is required"}},
		{module.NamespaceListener, obj{"module": "unix", "path": "/tmp/x.sock", "mode": "0999"}, []string{`mode "0999"`, "octal"}},
		{module.NamespaceListener, obj{"module": "unix", "path": "/tmp/x.sock", "mode": "01777"}, []string{`mode "01777"`}},
		{module.NamespaceListener, obj{"module": "unix", "path": "/tmp/x.sock", "mode": 384}, []string{"mode 384", `octal string such as "0600"`}},
		{module.NamespaceListener, obj{"module": "tls", "address": "127.0.0.1:0"}, []string{"cert_file and key_file are required"}},
		{module.NamespaceListener, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": p.serverCert}, []string{"cert_file and key_file go together"}},
		{module.NamespaceListener, obj{"module": "tls", "cert_file": p.serverCert, "key_file": p.serverKey}, []string{"address is required"}},
		{module.NamespaceListener, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": p.serverCert, "key_file": p.serverKey,
			"client_auth": "always"}, []string{`client_auth "always": use "none", "request" or "require"`}},
		{module.NamespaceListener, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": p.serverCert, "key_file": p.serverKey,
			"client_auth": "require"}, []string{`client_auth "require" needs client_ca_file`}},
		{module.NamespaceListener, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": p.serverCert, "key_file": p.serverKey,
			"client_auth": "none", "client_ca_file": p.caFile}, []string{`client_ca_file is set but client_auth is "none"`}},
		{module.NamespaceListener, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": p.serverCert, "key_file": p.serverKey,
			"min_version": "1.0"}, []string{`min_version "1.0"`}},
		{module.NamespaceListener, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": "/nonexistent/s.pem", "key_file": p.serverKey},
			[]string{`cert_file "/nonexistent/s.pem"`, "no such file"}},
		{module.NamespaceListener, obj{"module": "tls", "address": "127.0.0.1:0", "cert_file": p.serverCert, "key_file": p.serverKey,
			"client_ca_file": garbage}, []string{"client_ca_file", "no PEM certificate"}},
		{module.NamespaceListener, obj{"module": "quic"}, []string{`known in namespace "listener": listener.tcp, listener.tls, listener.unix`}},
	}
	l := loader(t)
	for _, tc := range cases {
		raw := tc.cfg.raw(t)
		_, err := module.LoadAs[any](l, tc.ns, raw)
		if !assert.Error(t, err, "%s", raw) {
			continue
		}
		assert.NotContains(t, err.Error()[len("fastrpc: "):], "fastrpc: ", "one prefix: %s", raw)
		for _, w := range tc.want {
			assert.ErrorContains(t, err, w, "%s", raw)
		}
	}
}

// The same checks apply to modules built from code, on first use.
func TestCodeConfigErrors(t *testing.T) {
	ctx := context.Background()
	_, err := (&transport.TLSDialer{TLSConfig: &tls.Config{}, CAFile: "ca.pem"}).DialContext(ctx, "tcp", "127.0.0.1:1")
	assert.ErrorContains(t, err, "dialer.tls: TLSConfig replaces ca_file, cert_file and key_file")
	_, err = (&transport.TLSDialer{}).DialContext(ctx, "unix", "/tmp/x.sock")
	assert.ErrorContains(t, err, `dialer.tls: cannot dial network "unix"`)
	_, err = (&transport.TCPDialer{LocalAddress: "nowhere"}).DialContext(ctx, "tcp", "127.0.0.1:1")
	assert.ErrorContains(t, err, `dialer.tcp: local_address "nowhere"`)
	_, err = (&transport.TCPDialer{}).DialContext(ctx, "unix", "/tmp/x.sock")
	assert.ErrorContains(t, err, "use dialer.unix")

	_, err = (&transport.TLSListener{Address: "127.0.0.1:0", TLSConfig: &tls.Config{}, KeyFile: "k"}).Listen(ctx)
	assert.ErrorContains(t, err, "listener.tls: TLSConfig replaces cert_file, key_file and client_ca_file")
	_, err = (&transport.TLSListener{Address: "127.0.0.1:0", TLSConfig: &tls.Config{}}).Listen(ctx)
	assert.ErrorContains(t, err, "listener.tls: TLSConfig has no certificate")
	withCert := &tls.Config{Certificates: []tls.Certificate{{}}}
	_, err = (&transport.TLSListener{Address: "127.0.0.1:0", TLSConfig: withCert, ClientAuth: "require"}).Listen(ctx)
	assert.ErrorContains(t, err, `client_auth "require" needs TLSConfig.ClientCAs`)
	_, err = (&transport.UnixListener{Path: sockPath(t), Mode: 0o1777}).Listen(ctx)
	assert.ErrorContains(t, err, "listener.unix: mode 01777")
	_, err = (&transport.TCPListener{}).Listen(ctx)
	assert.ErrorContains(t, err, "listener.tcp: address is required")
}

// Every module is registered under its ID and loads with no more than
// what it requires; modules round-trip through JSON.
func TestModulesRegistered(t *testing.T) {
	var ids []module.ID
	for _, ns := range []string{module.NamespaceDialer, module.NamespaceListener} {
		for _, i := range module.Namespace(ns) {
			ids = append(ids, i.ID)
		}
	}
	assert.Subset(t, ids, []module.ID{"dialer.tcp", "dialer.unix", "dialer.tls", "listener.tcp", "listener.unix", "listener.tls"})

	ld := loader(t)
	for _, name := range []string{"tcp", "unix", "tls"} {
		_, err := module.LoadAs[conn.Dialer](ld, module.NamespaceDialer, obj{"module": name}.raw(t))
		require.NoError(t, err, "dialer.%s needs no config", name)
	}

	l := &transport.UnixListener{Path: "/run/x.sock", Mode: 0o660, RemoveStale: true}
	b, err := json.Marshal(l)
	require.NoError(t, err)
	assert.JSONEq(t, `{"path":"/run/x.sock","mode":"0660","remove_stale":true}`, string(b))
	var back transport.UnixListener
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, l.Mode, back.Mode)

	d := &transport.TLSDialer{Timeout: module.Duration(1e9), CAFile: "ca.pem", MinVersion: "1.3"}
	b, err = json.Marshal(d)
	require.NoError(t, err)
	assert.JSONEq(t, `{"timeout":"1s","ca_file":"ca.pem","min_version":"1.3"}`, string(b))
}
