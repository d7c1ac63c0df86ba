package slave_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testcert"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/transport"
)

// requireOnePrefix checks that err reads as one sentence: "fastrpc:" once,
// at the start.
func requireOnePrefix(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "fastrpc: "), "message does not start with the prefix: %s", msg)
	assert.Equal(t, 1, strings.Count(msg, "fastrpc:"), "the prefix repeats: %s", msg)
}

// callBlocker is a handler that holds its call until the test ends, ignoring
// its own deadline, so only the slave can end the call. started receives
// once per call.
func callBlocker(t *testing.T) (master.Handler, <-chan struct{}) {
	release := make(chan struct{})
	started := make(chan struct{}, 16)
	t.Cleanup(func() { close(release) }) // before the master's Close
	return func(op *master.IOOperator) error {
		started <- struct{}{}
		<-release
		return nil
	}, started
}

func callWaitStarted(t *testing.T, started <-chan struct{}) {
	t.Helper()
	select {
	case <-started:
	case <-time.After(hangGuard):
		t.Fatal("handler not started")
	}
}

// Errors from a real master, and the slave's own refusals: each reads as
// one sentence, with its exact text pinned.
func TestCallErrorText(t *testing.T) {
	big := strings.Repeat("x", 100)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"echo":  echo,
		"fail":  func(*master.IOOperator) error { return errors.New("boom") },
		"deny":  func(*master.IOOperator) error { return master.ErrPermissionDenied },
		"panic": func(*master.IOOperator) error { panic("secret") },
		"big":   func(op *master.IOOperator) error { return op.WriteIOFromBuffer([]byte(big)) },
	})
	_, small := serveMaster(t, master.Config{MaxRequestSize: 10}, map[string]master.Handler{"echo": echo})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	limited := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxRequestSize: 10, MaxResponseSize: 10})
	unlimited := dialSlave(t, small, slave.Config{PoolSize: 1, MaxRequestSize: -1})
	ctx := callCtx(t)
	eleven := []byte("eleven byte")

	cases := []struct {
		name string
		call func() error
		want string
		is   []error
		not  []error
		// only the start of the message is pinned: the rest is the
		// master's
		prefix bool
	}{{
		name: "unknown method",
		call: func() error { _, err := s.Call(ctx, "nope", nil); return err },
		want: fmt.Sprintf(`fastrpc: call "nope": unknown method: no method with ID %#016x is registered`, frame.MethodID("nope")),
		is:   []error{slave.ErrUnknownMethod},
		not:  []error{slave.ErrConnection, slave.ErrUnavailable},
	}, {
		name: "application error",
		call: func() error { _, err := s.Call(ctx, "fail", nil); return err },
		want: `fastrpc: call "fail": application error: boom`,
		is:   []error{slave.ErrApplication},
		not:  []error{slave.ErrConnection, slave.ErrUnavailable},
	}, {
		name: "permission denied",
		call: func() error { _, err := s.Call(ctx, "deny", nil); return err },
		want: `fastrpc: call "deny": permission denied: permission denied`,
		is:   []error{slave.ErrPermissionDenied},
	}, {
		name: "panic",
		call: func() error { _, err := s.Call(ctx, "panic", nil); return err },
		want: `fastrpc: call "panic": handler panic: handler panicked; see the master's log`,
		is:   []error{slave.ErrHandlerPanic},
	}, {
		name: "request too large for the slave",
		call: func() error { _, err := limited.Call(ctx, "echo", eleven); return err },
		want: `fastrpc: call "echo": request too large: 11 bytes, the slave's MaxRequestSize is 10; nothing was sent`,
		is:   []error{slave.ErrRequestTooLarge},
		not:  []error{slave.ErrConnection},
	}, {
		name:   "request too large for the master",
		call:   func() error { _, err := unlimited.Call(ctx, "echo", eleven); return err },
		want:   `fastrpc: call "echo": request too large: request of 11 bytes exceeds the master's limit of 10 bytes`,
		is:     []error{slave.ErrRequestTooLarge},
		not:    []error{slave.ErrConnection},
		prefix: true,
	}, {
		name: "response too large",
		call: func() error { _, err := limited.Call(ctx, "big", nil); return err },
		want: `fastrpc: call "big": response too large: 100 bytes, MaxResponseSize is 10`,
		is:   []error{slave.ErrResponseTooLarge},
		not:  []error{slave.ErrConnection},
	}, {
		name: "context already ended",
		call: func() error {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := s.Call(ctx, "echo", nil)
			return err
		},
		want: `fastrpc: call "echo": context canceled before the request was sent`,
		is:   []error{context.Canceled},
		not:  []error{slave.ErrConnection},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			t.Logf("error: %v", err)
			requireOnePrefix(t, err)
			if tc.prefix {
				assert.True(t, strings.HasPrefix(err.Error(), tc.want), "want %s...", tc.want)
			} else {
				assert.Equal(t, tc.want, err.Error())
			}
			for _, target := range tc.is {
				assert.ErrorIs(t, err, target)
			}
			for _, target := range tc.not {
				assert.NotErrorIs(t, err, target)
			}
		})
	}
}

// A deadline or a cancellation while the master holds the call matches the
// context's error, not ErrConnection, and says the request was sent; one
// that ends the call while it waits for a connection says it was not.
func TestCallEndedErrorText(t *testing.T) {
	hold, started := callBlocker(t)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{"hold": hold, "echo": echo})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	t.Run("deadline while waiting for the answer", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := s.Call(ctx, "hold", []byte("x"))
		t.Logf("error: %v", err)
		requireOnePrefix(t, err)
		assert.Equal(t, `fastrpc: call "hold": context deadline exceeded after the request was sent; the master may have run it`, err.Error())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, slave.ErrConnection)
		assert.NotErrorIs(t, err, slave.ErrUnavailable)
		callWaitStarted(t, started)
	})
	t.Run("cancellation while waiting for the answer", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			callWaitStarted(t, started)
			cancel()
		}()
		_, err := s.Call(ctx, "hold", []byte("x"))
		t.Logf("error: %v", err)
		requireOnePrefix(t, err)
		assert.Equal(t, `fastrpc: call "hold": context canceled after the request was sent; the master may have run it`, err.Error())
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, slave.ErrConnection)
	})
	t.Run("deadline while waiting for a connection", func(t *testing.T) {
		busy := make(chan error, 1)
		go func() {
			// Long enough to outlast the drain of the cancelled call before
			// it, whose handler ignores the cancel frame.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err := s.Call(ctx, "hold", nil)
			busy <- err
		}()
		callWaitStarted(t, started) // the pool's one connection is taken
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := s.Call(ctx, "echo", nil)
		t.Logf("error: %v", err)
		requireOnePrefix(t, err)
		assert.Equal(t, `fastrpc: call "echo": context deadline exceeded before the request was sent`, err.Error())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, slave.ErrConnection)
		require.ErrorIs(t, <-busy, context.DeadlineExceeded)
	})
}

// callFakeMaster serves a raw TCP listener on loopback: for each connection it
// completes the handshake and passes the connection to serve, then closes
// it. It returns the address. Everything stops when the test ends.
func callFakeMaster(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	return callRawServer(t, callHandshake(serve))
}

// callHandshake wraps serve with a master's side of the handshake.
func callHandshake(serve func(c net.Conn)) func(c net.Conn) {
	return func(c net.Conn) {
		var p [frame.PrefaceSize]byte
		frame.PutPreface(p[:], frame.Preface{Version: frame.Version1, Status: frame.HandshakeOK})
		if _, err := c.Write(p[:]); err != nil {
			return
		}
		if _, err := io.ReadFull(c, p[:]); err != nil {
			return
		}
		serve(c)
	}
}

// callRawServer accepts loopback TCP connections and runs serve on each.
func callRawServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	testserve.Raw(t, ln, serve)
	return ln.Addr().String()
}

// callReadRequest reads one request from a slave and drops its payload.
func callReadRequest(c net.Conn) (frame.RequestHeader, error) {
	var b [frame.RequestHeaderSize]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return frame.RequestHeader{}, err
	}
	h, err := frame.ParseRequestHeader(b[:])
	if err != nil {
		return h, err
	}
	_, err = io.CopyN(io.Discard, c, int64(h.Length))
	return h, err
}

func callResponseHeader(h frame.ResponseHeader) []byte {
	b := make([]byte, frame.ResponseHeaderSize)
	frame.PutResponseHeader(b, h)
	return b
}

// callSlave returns a slave for a fake master, closed when the test
// ends.
func callSlave(t *testing.T, addr string) *slave.Slave {
	t.Helper()
	s, err := slave.New(slave.Config{Address: addr, PoolSize: 1, DialTimeout: hangGuard})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A master that promises M response bytes and ends after N: the error
// says so, for Call and for CallStream, which also reports N.
func TestCallResponseEndedEarly(t *testing.T) {
	addr := callFakeMaster(t, func(c net.Conn) {
		if _, err := callReadRequest(c); err != nil {
			return
		}
		_, _ = c.Write(callResponseHeader(frame.ResponseHeader{Status: frame.StatusOK, Length: 1000}))
		_, _ = c.Write(make([]byte, 300))
	})
	s := callSlave(t, addr)
	want := `fastrpc: call "short": connection failed during the call: the master ended the response after 300 of 1000 bytes`

	_, err := s.Call(callCtx(t), "short", []byte("x"))
	t.Logf("Call: %v", err)
	requireOnePrefix(t, err)
	assert.Equal(t, want, err.Error())
	assert.ErrorIs(t, err, slave.ErrConnection)

	var got strings.Builder
	n, err := s.CallStream(callCtx(t), "short", strings.NewReader("x"), 1, &got)
	t.Logf("CallStream: %v", err)
	requireOnePrefix(t, err)
	assert.Equal(t, want, err.Error())
	assert.ErrorIs(t, err, slave.ErrConnection)
	assert.EqualValues(t, 300, n)
	assert.Equal(t, 300, got.Len())
}

// Whatever shows that the peer does not speak this protocol matches
// ErrProtocol: reserved bits in a response header, an error message over
// the limit, a malformed capabilities body, garbage instead of a preface.
func TestCallProtocolErrors(t *testing.T) {
	reserved := callResponseHeader(frame.ResponseHeader{Status: frame.StatusOK})
	reserved[2] = 1
	cases := []struct {
		name   string
		answer []byte
		method string
		want   string
		is     error
	}{{
		name: "reserved bits", answer: reserved, method: "x",
		want: `fastrpc: call "x": protocol violation by the master: frame: reserved bits set (peer speaks an incompatible protocol revision)`,
		is:   frame.ErrReserved,
	}, {
		name:   "error message too long",
		answer: callResponseHeader(frame.ResponseHeader{Status: frame.StatusApplicationError, Length: 1 << 20}),
		method: "x",
		want:   `fastrpc: call "x": protocol violation by the master: error message of 1048576 bytes exceeds 65536`,
	}, {
		name:   "malformed capabilities",
		answer: append(callResponseHeader(frame.ResponseHeader{Status: frame.StatusOK, Length: 3}), 0xff, 0xff, 0xff),
		method: frame.CapabilitiesName,
		want:   `fastrpc: call "capabilities": protocol violation by the master: frame: malformed capabilities body`,
		is:     frame.ErrCapabilities,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := callFakeMaster(t, func(c net.Conn) {
				if _, err := callReadRequest(c); err == nil {
					_, _ = c.Write(tc.answer)
				}
			})
			s := callSlave(t, addr)
			var err error
			if tc.method == frame.CapabilitiesName {
				_, err = s.Capabilities(callCtx(t))
			} else {
				_, err = s.Call(callCtx(t), tc.method, nil)
			}
			t.Logf("error: %v", err)
			requireOnePrefix(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.ErrorIs(t, err, slave.ErrProtocol)
			assert.NotErrorIs(t, err, slave.ErrConnection)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}

	t.Run("handshake garbage", func(t *testing.T) {
		addr := callRawServer(t, func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		})
		s := callSlave(t, addr)
		_, err := s.Call(callCtx(t), "x", nil)
		t.Logf("Call: %v", err)
		requireOnePrefix(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), `fastrpc: call "x": `), err.Error())
		assert.Contains(t, err.Error(), `got "HTTP/1.1"`)
		assert.ErrorIs(t, err, frame.ErrBadMagic)
		assert.ErrorIs(t, err, slave.ErrProtocol)
		assert.NotErrorIs(t, err, slave.ErrConnection)

		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		_, err = slave.Dial(ctx, slave.Config{Address: addr, PoolSize: 1})
		t.Logf("Dial: %v", err)
		requireOnePrefix(t, err)
		assert.ErrorIs(t, err, frame.ErrBadMagic)
		assert.ErrorIs(t, err, slave.ErrProtocol)
	})
}

// A call answered "not processed" whose re-send cannot get a connection
// reads as one sentence and matches both facts.
func TestCallNotSentAgainErrorText(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	testserve.Raw(t, ln, callHandshake(func(c net.Conn) {
		if _, err := callReadRequest(c); err != nil {
			return
		}
		_ = ln.Close() // from now on dials are refused
		msg := "master is stopping; the request was not processed"
		_, _ = c.Write(append(callResponseHeader(frame.ResponseHeader{Status: frame.StatusShuttingDown, Length: uint64(len(msg))}), msg...))
	}))
	s := callSlave(t, ln.Addr().String())
	_, err = s.Call(callCtx(t), "x", []byte("req"))
	t.Logf("error: %v", err)
	requireOnePrefix(t, err)
	assert.True(t, strings.HasPrefix(err.Error(),
		`fastrpc: call "x": master shutting down: master is stopping; the request was not processed; not sent again: `), err.Error())
	assert.Contains(t, err.Error(), "connection refused")
	assert.ErrorIs(t, err, slave.ErrShuttingDown)
	assert.ErrorIs(t, err, slave.ErrUnavailable)
	assert.NotErrorIs(t, err, slave.ErrConnection)
}

// Dials that fail before anything is sent match ErrUnavailable, not
// ErrConnection, and read as one sentence.
func TestCallUnavailableErrorText(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		addr := callRefusedAddr(t)
		s := callSlave(t, addr)
		_, err := s.Call(callCtx(t), "x", nil)
		t.Logf("error: %v", err)
		requireOnePrefix(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), `fastrpc: call "x": `), err.Error())
		assert.Contains(t, err.Error(), "connection refused")
		assert.ErrorIs(t, err, slave.ErrUnavailable)
		assert.NotErrorIs(t, err, slave.ErrConnection)

		// With FailFast, within the backoff window the dial is not even
		// tried.
		ff, err := slave.New(slave.Config{Address: addr, PoolSize: 1, FailFast: true})
		require.NoError(t, err)
		defer ff.Close()
		_, err = ff.Call(callCtx(t), "x", nil) // opens the window
		require.ErrorIs(t, err, slave.ErrUnavailable)
		_, err = ff.Call(callCtx(t), "x", nil)
		t.Logf("error: %v", err)
		requireOnePrefix(t, err)
		assert.ErrorIs(t, err, slave.ErrDialBackoff)
		assert.ErrorIs(t, err, slave.ErrUnavailable)
	})
	t.Run("overloaded", func(t *testing.T) {
		_, addr := serveMaster(t, master.Config{MaxConnections: 1}, map[string]master.Handler{"echo": echo})
		_ = dialSlave(t, addr, slave.Config{PoolSize: 1}) // holds the one connection
		s := callSlave(t, addr)
		_, err := s.Call(callCtx(t), "echo", nil)
		t.Logf("error: %v", err)
		requireOnePrefix(t, err)
		assert.ErrorIs(t, err, slave.ErrOverloaded)
		assert.ErrorIs(t, err, slave.ErrUnavailable)
		assert.NotErrorIs(t, err, slave.ErrConnection)
	})
}

// callRefusedAddr returns a loopback address nothing listens on.
func callRefusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// An mTLS slave the master refuses is told the real cause: no client
// certificate at all, or one the master's CAs did not sign (which a Go
// client then does not send, so the master says "certificate required").
func TestCallClientCertificateHint(t *testing.T) {
	dir := t.TempDir()
	ca, other := testcert.NewCA(t, "ca"), testcert.NewCA(t, "other-ca")
	caFile := ca.WriteFile(t, dir)
	serverCert, serverKey := ca.Issue(t, testcert.Leaf{}).WriteFiles(t, dir, "server")
	strangerCert, strangerKey := other.Issue(t, testcert.Leaf{CommonName: "billing"}).WriteFiles(t, dir, "stranger")
	clientCert, clientKey := ca.Issue(t, testcert.Leaf{CommonName: "billing"}).WriteFiles(t, dir, "client")

	m := master.New(master.Config{})
	require.NoError(t, m.Register("echo", master.MethodInfo{}, echo))
	l := &transport.TLSListener{Address: "127.0.0.1:0", CertFile: serverCert, KeyFile: serverKey,
		ClientCAFile: caFile, ClientAuth: transport.ClientAuthRequire, MinVersion: "1.3"}
	ln, err := l.Listen(context.Background())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		_ = m.Close()
		<-done
	})
	addr := ln.Addr().String()

	cases := []struct {
		name string
		d    conn.Dialer
		want string
	}{{
		name: "no client certificate",
		d:    &transport.TLSDialer{CAFile: caFile},
		want: "remote error: tls: certificate required; the master requires a client certificate: set cert_file and key_file",
	}, {
		name: "client certificate from another CA",
		d:    &transport.TLSDialer{CAFile: caFile, CertFile: strangerCert, KeyFile: strangerKey},
		want: "remote error: tls: certificate required; the master requires a client certificate, and this slave's is not signed by a CA the master trusts, so it sent none",
	}, {
		name: "client certificate from another CA, in TLSConfig",
		d: &transport.TLSDialer{TLSConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{
			callLoadPair(t, strangerCert, strangerKey)}}},
		want: "remote error: tls: certificate required; the master requires a client certificate, and this slave's is not signed by a CA the master trusts, so it sent none",
	}, {
		// Only transport's dialer explains alerts; a plain one shows the alert.
		name: "crypto/tls dialer",
		d: &tls.Dialer{Config: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{
			callLoadPair(t, strangerCert, strangerKey)}}},
		want: "remote error: tls: certificate required",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := slave.New(slave.Config{Address: addr, Dialer: tc.d, PoolSize: 1, DialTimeout: hangGuard})
			require.NoError(t, err)
			defer s.Close()
			_, err = s.Call(callCtx(t), "echo", nil)
			t.Logf("error: %v", err)
			requireOnePrefix(t, err)
			assert.True(t, strings.HasSuffix(err.Error(), tc.want), "got %v", err)
			assert.NotErrorIs(t, err, slave.ErrConnection)
		})
	}

	good, err := slave.New(slave.Config{Address: addr, PoolSize: 1,
		Dialer: &transport.TLSDialer{CAFile: caFile, CertFile: clientCert, KeyFile: clientKey}})
	require.NoError(t, err)
	defer good.Close()
	resp, err := good.Call(callCtx(t), "echo", []byte("trusted"))
	require.NoError(t, err)
	require.Equal(t, "trusted", string(resp))
}

func callLoadPair(t *testing.T, certFile, keyFile string) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	return pair
}
