package transport_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/internal/testcert"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/transport"
)

// hangGuard bounds waits that only exist to keep a broken test from hanging.
const hangGuard = 10 * time.Second

func echo(op *master.IOOperator) error {
	b, err := op.ReadAll()
	if err != nil {
		return err
	}
	return op.WriteIOFromBuffer(b)
}

// whoami answers with the caller's verified certificate: common name,
// then the first URI SAN.
func whoami(op *master.IOOperator) error {
	id, ok := transport.PeerIdentity(op.NetConn())
	if !ok {
		return op.WriteError("no verified client certificate")
	}
	s := id.CommonName
	for _, u := range id.URIs {
		s += " " + u.String()
	}
	return op.WriteIOFromBuffer([]byte(s))
}

// serve opens l and serves echo and whoami on it with a new master,
// closed (and l cleaned up, if it has a Cleanup) when the test ends. It returns the master and
// the address to dial: host:port, or the socket's path.
func serve(t testing.TB, l conn.Listener, cfg master.Config) (*master.Master, string) {
	t.Helper()
	m := master.New(cfg)
	require.NoError(t, m.Register("echo", master.MethodInfo{}, echo))
	require.NoError(t, m.Register("whoami", master.MethodInfo{}, whoami))
	ln, err := l.Listen(context.Background())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		_ = m.Close()
		select {
		case err := <-done:
			// ErrClosed: the test was over before Serve's goroutine ran.
			if !errors.Is(err, master.ErrClosed) {
				require.NoError(t, err, "Serve after Close")
			}
		case <-time.After(hangGuard):
			t.Error("Serve did not return after Close")
		}
		if c, ok := l.(module.CleanerUpper); ok {
			require.NoError(t, c.Cleanup())
		}
	})
	return m, ln.Addr().String()
}

// newSlave returns a slave over d, not yet connected, closed when the test
// ends.
func newSlave(t testing.TB, d conn.Dialer, addr string) *slave.Slave {
	t.Helper()
	s, err := slave.New(slave.Config{Address: addr, Dialer: d, PoolSize: 1, DialTimeout: hangGuard})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dialErr returns the error of connecting to addr over d.
func dialErr(t testing.TB, d conn.Dialer, addr string) error {
	t.Helper()
	s := newSlave(t, d, addr)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	err := s.Warm(ctx)
	require.Error(t, err, "connecting should fail")
	return err
}

func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// requireEcho checks that a call through s works.
func requireEcho(t testing.TB, s *slave.Slave) {
	t.Helper()
	resp, err := s.Call(callCtx(t), "echo", []byte("hello"))
	require.NoError(t, err)
	require.Equal(t, "hello", string(resp))
}

// sockPath returns a path for a unix socket in a new directory, short
// enough for the ~100-byte limit on socket paths.
func sockPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "frpc")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "m.sock")
}

// pki is a test's certificates, as files in a temporary directory.
type pki struct {
	ca, otherCA *testcert.CA
	// files
	caFile, otherCAFile        string
	serverCert, serverKey      string // for 127.0.0.1 and localhost, by ca
	expiredCert, expiredKey    string // server cert by ca, expired
	clientCert, clientKey      string // "billing" with a SPIFFE URI, by ca
	strangerCert, strangerKey  string // client cert by otherCA
	expiredClient, expiredCKey string // client cert by ca, expired
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{ca: testcert.NewCA(t, "test-ca"), otherCA: testcert.NewCA(t, "other-ca")}
	p.caFile = p.ca.WriteFile(t, dir)
	p.otherCAFile = p.otherCA.WriteFile(t, dir)
	p.serverCert, p.serverKey = p.ca.Issue(t, testcert.Leaf{}).WriteFiles(t, dir, "server")
	p.expiredCert, p.expiredKey = p.ca.Issue(t, testcert.Leaf{
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
	}).WriteFiles(t, dir, "expired")
	client := testcert.Leaf{CommonName: "billing", URIs: []string{"spiffe://example.org/billing"}}
	p.clientCert, p.clientKey = p.ca.Issue(t, client).WriteFiles(t, dir, "client")
	p.strangerCert, p.strangerKey = p.otherCA.Issue(t, client).WriteFiles(t, dir, "stranger")
	client.NotBefore, client.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	p.expiredClient, p.expiredCKey = p.ca.Issue(t, client).WriteFiles(t, dir, "expired-client")
	return p
}

// obj is a JSON object under construction.
type obj map[string]any

func (o obj) raw(t testing.TB) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(o)
	require.NoError(t, err)
	return b
}

// loader returns a Loader whose modules are cleaned up when the test ends.
func loader(t testing.TB) *module.Loader {
	l := module.NewLoader(context.Background())
	t.Cleanup(func() { require.NoError(t, l.Cleanup()) })
	return l
}

func loadDialer(t testing.TB, o obj) conn.Dialer {
	t.Helper()
	d, err := module.LoadAs[conn.Dialer](loader(t), module.NamespaceDialer, o.raw(t))
	require.NoError(t, err)
	return d
}

func loadListener(t testing.TB, o obj) conn.Listener {
	t.Helper()
	l, err := module.LoadAs[conn.Listener](loader(t), module.NamespaceListener, o.raw(t))
	require.NoError(t, err)
	return l
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}
