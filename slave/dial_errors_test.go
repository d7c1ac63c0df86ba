package slave_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// oneFastRpcPrefix fails the test unless msg is one sentence starting
// with the library's prefix, which it has only once.
func oneFastRpcPrefix(t *testing.T, msg string) {
	t.Helper()
	assert.True(t, strings.HasPrefix(msg, "fastrpc: "), "%q", msg)
	assert.Equal(t, 1, strings.Count(msg, "fastrpc: "), "%q", msg)
}

// Issue 13, item 4: a peer that accepts and says nothing (a plain HTTP
// server, or any silent listener) is answered within HandshakeTimeout,
// not DialTimeout, with an error that says what is wrong.
func TestDialSilentPeer(t *testing.T) {
	silent := testserve.RawTCP(t, func(nc net.Conn) { _, _ = io.Copy(io.Discard, nc) })
	web := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(web.Close)
	for name, addr := range map[string]string{
		"silent listener": silent,
		"http server":     strings.TrimPrefix(web.URL, "http://"),
	} {
		t.Run(name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			s, err := slave.New(slave.Config{Address: addr, PoolSize: 1, DialTimeout: 30 * time.Second})
			require.NoError(t, err)
			start := time.Now()
			_, err = s.Call(callCtx(t), "echo", nil)
			took := time.Since(start)
			require.Error(t, err)
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
			assert.ErrorIs(t, err, slave.ErrUnavailable, "nothing was sent")
			assert.NotErrorIs(t, err, context.DeadlineExceeded, "the call's context is a minute away")
			assert.NotErrorIs(t, err, slave.ErrConnection)
			assert.ErrorContains(t, err, "the peer at "+addr+" sent no FastRpc preface within 2s; is it a FastRpc master?")
			oneFastRpcPrefix(t, err.Error())
			// DefaultHandshakeTimeout, not the 30s DialTimeout (a bound,
			// not a speed test).
			assert.Less(t, took, 15*time.Second)
			require.NoError(t, s.Close())
			goleak.VerifyNone(t, leaks)
		})
	}

	t.Run("HandshakeTimeout", func(t *testing.T) {
		s, err := slave.New(slave.Config{Address: silent, PoolSize: 1, HandshakeTimeout: 100 * time.Millisecond})
		require.NoError(t, err)
		defer s.Close()
		_, err = s.Call(callCtx(t), "echo", nil)
		assert.ErrorIs(t, err, slave.ErrUnavailable)
		assert.ErrorContains(t, err, "sent no FastRpc preface within 100ms")
	})
}

// Closing a slave whose dial is stuck on a silent peer returns at once
// and leaves no goroutine behind.
func TestDialCloseDuringHandshake(t *testing.T) {
	accepted := make(chan struct{}, 1)
	addr := testserve.RawTCP(t, func(nc net.Conn) {
		accepted <- struct{}{}
		_, _ = io.Copy(io.Discard, nc)
	})
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			s, err := slave.New(slave.Config{Address: addr, PoolSize: 1, Pool: k.pool, HandshakeTimeout: time.Minute})
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() {
				_, err := s.Call(callCtx(t), "echo", nil)
				done <- err
			}()
			<-accepted
			require.NoError(t, s.Close())
			select {
			case err := <-done:
				assert.ErrorIs(t, err, slave.ErrClosed)
			case <-time.After(hangGuard):
				t.Fatal("the call did not return after Close")
			}
			goleak.VerifyNone(t, leaks)
		})
	}
}

// Every failure on the way to a connection says the request was not sent
// (ErrUnavailable), keeps what it is about, and has one prefix.
func TestDialErrors(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		s, err := slave.New(slave.Config{Address: freeAddr(t)})
		require.NoError(t, err)
		defer s.Close()
		_, err = s.Call(callCtx(t), "echo", nil)
		t.Log(err)
		assert.ErrorIs(t, err, slave.ErrUnavailable)
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
		var oe *net.OpError
		assert.ErrorAs(t, err, &oe)
		assert.NotErrorIs(t, err, slave.ErrConnection)
		assert.ErrorContains(t, err, "the request was not sent")
		oneFastRpcPrefix(t, err.Error())
	})

	t.Run("overloaded", func(t *testing.T) {
		_, addr := serveMaster(t, master.Config{MaxConnections: 1}, map[string]master.Handler{"echo": echo})
		dialSlave(t, addr, slave.Config{PoolSize: 1}) // holds the only connection
		s, err := slave.New(slave.Config{Address: addr, PoolSize: 1})
		require.NoError(t, err)
		defer s.Close()
		_, err = s.Call(callCtx(t), "echo", nil)
		t.Log(err)
		assert.ErrorIs(t, err, slave.ErrOverloaded)
		assert.ErrorIs(t, err, slave.ErrUnavailable)
		assert.ErrorContains(t, err, "MaxConnections")
		oneFastRpcPrefix(t, err.Error())
	})

	for name, reply := range map[string][]byte{
		"bad magic": []byte("HTTP/1.1 400 Bad Request\r\n\r\n"),
		"version":   preface(frame.Preface{Version: frame.MaxVersion + 1}),
	} {
		t.Run(name, func(t *testing.T) {
			addr := testserve.RawTCP(t, func(nc net.Conn) {
				_, _ = nc.Write(reply)
				_, _ = io.Copy(io.Discard, nc)
			})
			s, err := slave.New(slave.Config{Address: addr, PoolSize: 1})
			require.NoError(t, err)
			defer s.Close()
			_, err = s.Call(callCtx(t), "echo", nil)
			t.Log(err)
			assert.ErrorIs(t, err, slave.ErrProtocol)
			assert.ErrorIs(t, err, slave.ErrUnavailable, "nothing was sent")
			var ve *frame.VersionError
			assert.True(t, errors.Is(err, frame.ErrBadMagic) || errors.As(err, &ve), "%v", err)
			oneFastRpcPrefix(t, err.Error())
		})
	}
}

func preface(p frame.Preface) []byte {
	b := make([]byte, frame.PrefaceSize)
	frame.PutPreface(b, p)
	return b
}

// slowDialer delays every dial.
type slowDialer struct {
	countingDialer
	delay time.Duration
}

func (d *slowDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	select {
	case <-time.After(d.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return d.countingDialer.DialContext(ctx, network, address)
}

// A call whose deadline passes while its connection is being dialled
// gets its context's error (nothing was sent: never ErrConnection); the
// dial goes on, is not a failure of the master, and serves the next call.
func TestDialOutlivesCallerDeadline(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{"echo": echo})
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			d := &slowDialer{delay: 200 * time.Millisecond}
			s, err := slave.New(slave.Config{Address: addr, PoolSize: 1, Pool: k.pool, Dialer: d})
			require.NoError(t, err)
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, err = s.Call(ctx, "echo", []byte("x"))
			t.Log(err)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.NotErrorIs(t, err, slave.ErrConnection)
			assert.NotErrorIs(t, err, slave.ErrDialBackoff)
			oneFastRpcPrefix(t, err.Error())

			got, err := s.Call(callCtx(t), "echo", []byte("next"))
			require.NoError(t, err, "the next call, without backoff")
			assert.Equal(t, "next", string(got))
			assert.Equal(t, int64(1), d.n.Load(), "one dial served both calls")
		})
	}
}

func TestNewChecksAddress(t *testing.T) {
	for _, addr := range []string{"localhost", "localhost:", "127.0.0.1", "::1"} {
		_, err := slave.New(slave.Config{Address: addr})
		require.Error(t, err, addr)
		assert.ErrorContains(t, err, "not host:port")
		oneFastRpcPrefix(t, err.Error())
	}
	for _, cfg := range []slave.Config{
		{Address: "localhost:10000"},
		{Address: "[::1]:10000", Network: "tcp6"},
		{Address: "/run/app.sock", Network: "unix"},
		// A Dialer module with its own kind of address (dialer.unix).
		{Address: "/run/app.sock", Dialer: &net.Dialer{}},
	} {
		s, err := slave.New(cfg)
		require.NoError(t, err, "%+v", cfg)
		require.NoError(t, s.Close())
	}
}
