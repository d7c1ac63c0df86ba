package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testcert"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/transport"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestNothingListening(t *testing.T) {
	addr := freeAddr(t)
	for _, args := range [][]string{{"caps", addr}, {"call", addr, "echo"}, {"call", addr, "echo", "--raw"}} {
		r := fastrpc(t, args...)
		requireFailure(t, r, exitCall, "cannot reach "+addr+": connection refused; is a master running there?")
	}
}

func TestNotAFastRpcMaster(t *testing.T) {
	// An HTTP server waits for a request line, so it never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: hangGuard}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()
	start := time.Now()
	r := fastrpc(t, "caps", addr)
	requireFailure(t, r, exitCall, addr+" is not a FastRpc master: it accepted the connection but sent no FastRpc preface within 2s")
	assert.Less(t, time.Since(start), 5*time.Second, "the handshake timeout, not --timeout")

	// A server that answers, and not in FastRpc.
	for _, tc := range []struct{ greeting, shown string }{
		{"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", `(it answered "HTTP/1.1..."`},
		{"SSH", `(it answered "SSH" and closed the connection)`},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		testserve.Raw(t, ln, func(nc net.Conn) {
			// Read the slave's preface first: closing with unread data
			// would reset the connection instead.
			_, _ = io.ReadFull(nc, make([]byte, frame.PrefaceSize))
			_, _ = nc.Write([]byte(tc.greeting))
		})
		r = fastrpc(t, "call", ln.Addr().String(), "echo", "--raw")
		requireFailure(t, r, exitCall, ln.Addr().String()+" is not a FastRpc master "+tc.shown)
	}
}

// tlsMaster serves the demo methods over TLS, requiring a client
// certificate when clientCA is set, and returns its address.
func tlsMaster(t *testing.T, certFile, keyFile, clientCA string) string {
	t.Helper()
	m := master.New(master.Config{})
	require.NoError(t, registerDemo(m))
	l := &transport.TLSListener{Address: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile, ClientCAFile: clientCA}
	ln, err := l.Listen(context.Background())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		_ = m.Close()
		<-done
	})
	return ln.Addr().String()
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "test-ca")
	caFile := ca.WriteFile(t, dir)
	certFile, keyFile := ca.Issue(t, testcert.Leaf{}).WriteFiles(t, dir, "master")
	clientCert, clientKey := ca.Issue(t, testcert.Leaf{CommonName: "cli"}).WriteFiles(t, dir, "client")

	addr := tlsMaster(t, certFile, keyFile, "")
	r := fastrpc(t, "call", addr, "greet", "-d", `{"name": "TLS"}`, "--tls-ca", caFile)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, map[string]any{"greeting": "hello, TLS"}, decodeJSON(t, r.stdout))

	r = fastrpc(t, "caps", addr, "--tls-ca", caFile, "--server-name", "localhost")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "greet")

	// The same from a --config, whose address ADDR replaces.
	cfg := filepath.Join(dir, "slave.json")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		`{"address": "127.0.0.1:1", "dialer": {"module": "tls", "ca_file": %q}, "pool": {"module": "puddle"}}`, caFile)), 0o600))
	r = fastrpc(t, "call", addr, "echo", "-d", "over tls", "--config", cfg)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "over tls", r.stdout)

	// Plain FastRpc to a TLS master: the message says what to do.
	r = fastrpc(t, "caps", addr)
	requireFailure(t, r, exitCall, addr+" speaks TLS: dial it with --tls-ca FILE")

	// A name the certificate does not hold.
	r = fastrpc(t, "caps", addr, "--tls-ca", caFile, "--server-name", "rpc.example")
	requireFailure(t, r, exitCall, "rpc.example")

	// Mutual TLS.
	mutual := tlsMaster(t, certFile, keyFile, caFile)
	r = fastrpc(t, "call", mutual, "echo", "-d", "mutual", "--tls-ca", caFile, "--tls-cert", clientCert, "--tls-key", clientKey)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "mutual", r.stdout)
	r = fastrpc(t, "call", mutual, "echo", "-d", "mutual", "--tls-ca", caFile)
	require.Equal(t, exitCall, r.code, "no client certificate: %s", r.stderr)
	assert.Contains(t, r.stderr, "certificate required")
}

func TestConfigAddress(t *testing.T) {
	d := startDemo(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slave.json")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`{"address": %q, "pool_size": 1}`, d.addr)), 0o600))

	// The address from the config: ADDR left out.
	r := fastrpc(t, "caps", "--config", cfg)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "echo")
	r = fastrpc(t, "call", "--config", cfg, "echo", "-d", "from config")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "from config", r.stdout)

	// ADDR replaces the config's address.
	elsewhere := filepath.Join(dir, "elsewhere.json")
	require.NoError(t, os.WriteFile(elsewhere, []byte(`{"address": "127.0.0.1:1"}`), 0o600))
	r = fastrpc(t, "call", d.addr, "echo", "-d", "overridden", "--config", elsewhere)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "overridden", r.stdout)
	r = fastrpc(t, "caps", "--config", elsewhere)
	requireFailure(t, r, exitCall, "cannot reach 127.0.0.1:1")
}

func TestConfigUnixSocketAndMiddleware(t *testing.T) {
	dir := t.TempDir()
	m := master.New(master.Config{})
	require.NoError(t, registerDemo(m))
	sock := filepath.Join(dir, "demo.sock")
	ln, err := (&transport.UnixListener{Path: sock}).Listen(context.Background())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		_ = m.Close()
		<-done
	})
	cfg := filepath.Join(dir, "unix.json")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		`{"address": %q, "network": "unix", "dialer": {"module": "unix"}, "middleware": [{"module": "logging"}]}`, sock)), 0o600))
	r := fastrpc(t, "call", "--config", cfg, "greet", "-d", `{"name": "unix"}`)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, map[string]any{"greeting": "hello, unix"}, decodeJSON(t, r.stdout))
	// The config's logging middleware writes to the command's stderr.
	assert.Contains(t, r.stderr, "method=greet")
}
