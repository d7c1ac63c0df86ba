package middleware_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testcert"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

func handlers() map[string]master.HandlerFunc {
	return map[string]master.HandlerFunc{
		"echo": func(op *master.IOOperator) error {
			b, err := op.ReadAll()
			if err != nil {
				return err
			}
			return op.WriteIOFromBuffer(b)
		},
		"fail":  func(*master.IOOperator) error { return errors.New("it failed") },
		"panic": func(*master.IOOperator) error { panic("kaboom") },
	}
}

// serve starts a master with mw on ln (a loopback TCP listener when nil).
func serve(t *testing.T, ln net.Listener, mw ...master.Middleware) *master.Master {
	t.Helper()
	m := master.New(master.Config{Middleware: mw})
	for name, h := range handlers() {
		require.NoError(t, m.Register(name, master.Info{}, h))
	}
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() { _ = m.Close(); <-done })
	return m
}

func dial(t *testing.T, addr string, d *tls.Dialer) *slave.Slave {
	t.Helper()
	cfg := slave.Config{Address: addr, PoolSize: 1}
	if d != nil {
		cfg.Dialer = d
	}
	s, err := slave.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// syncBuffer is a bytes.Buffer safe for the master's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		out = append(out, r)
	}
	return out
}

func TestLoggingAndRecover(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logging := &middleware.Logging{Logger: logger}
	require.NoError(t, logging.Provision(context.Background()))
	rec := &middleware.Recover{Logger: logger}
	m := serve(t, nil, logging.WrapHandler, rec.WrapHandler)
	s := dial(t, m.Addr().String(), nil)

	got, err := s.CallForBuffer("echo", []byte("hello"))
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))
	_, err = s.CallForBuffer("fail", nil)
	require.ErrorIs(t, err, slave.ErrApplication)
	_, err = s.CallForBuffer("panic", []byte("xyz"))
	require.ErrorIs(t, err, slave.ErrHandlerPanic)
	var re *slave.RemoteError
	require.ErrorAs(t, err, &re)
	require.NotContains(t, re.Message, "kaboom", "panic details stay on the master")
	_, err = s.CallForBuffer("echo", []byte("connection survived"))
	require.NoError(t, err)

	// The master logs after it has answered: wait for the four records.
	require.Eventually(t, func() bool {
		n := 0
		for _, r := range buf.records(t) {
			if r["msg"] == "fastrpc call" {
				n++
			}
		}
		return n == 4
	}, 5*time.Second, time.Millisecond)
	byMethod := map[string]map[string]any{}
	var panicLog map[string]any
	for _, r := range buf.records(t) {
		switch r["msg"] {
		case "fastrpc call":
			byMethod[r["method"].(string)] = r
		case "fastrpc: handler panicked":
			panicLog = r
		}
	}
	require.Contains(t, byMethod, "echo")
	assert.Equal(t, "ok", byMethod["echo"]["status"])
	assert.Equal(t, "INFO", byMethod["echo"]["level"])
	assert.EqualValues(t, len("connection survived"), byMethod["echo"]["request_bytes"])
	assert.EqualValues(t, len("connection survived"), byMethod["echo"]["response_bytes"])
	assert.NotEmpty(t, byMethod["echo"]["remote"])
	assert.Contains(t, byMethod["echo"], "duration")
	assert.Equal(t, "application error", byMethod["fail"]["status"])
	assert.Equal(t, "WARN", byMethod["fail"]["level"])
	assert.Equal(t, "it failed", byMethod["fail"]["err"])
	assert.Equal(t, "handler panic", byMethod["panic"]["status"], "logging outside recover sees the panic as a status")
	require.NotNil(t, panicLog, "recover logs the panic")
	assert.Equal(t, "kaboom", panicLog["panic"])
	assert.Contains(t, panicLog["stack"], "goroutine")
}

func TestMetrics(t *testing.T) {
	// An echo is observed just after its answer is sent, but before the
	// same connection serves the next call; fail and panic are observed
	// before their answers. So every observation is in when the last call
	// returns.
	counters := middleware.NewCounters()
	mw := &middleware.Metrics{Sink: counters}
	m := serve(t, nil, mw.WrapHandler)
	s := dial(t, m.Addr().String(), nil)
	for range 5 {
		_, err := s.CallForBuffer("echo", []byte("abc"))
		require.NoError(t, err)
	}
	_, err := s.CallForBuffer("fail", nil)
	require.Error(t, err)
	_, err = s.CallForBuffer("panic", nil)
	require.Error(t, err)

	stats := map[string]middleware.MethodStats{}
	for _, st := range counters.Snapshot() {
		stats[st.Method] = st
	}
	echo := stats["echo"]
	assert.Equal(t, uint64(5), echo.Calls)
	assert.Zero(t, echo.Errors)
	assert.Equal(t, uint64(15), echo.RequestBytes)
	assert.Equal(t, uint64(15), echo.ResponseBytes)
	var inBuckets uint64
	for _, n := range echo.Buckets {
		inBuckets += n
	}
	assert.Equal(t, echo.Calls, inBuckets, "every call lands in one bucket")
	assert.Len(t, echo.Buckets, len(middleware.LatencyBuckets)+1)
	assert.Positive(t, echo.TotalTime)
	assert.Equal(t, uint64(1), stats["fail"].Errors)
	assert.Equal(t, uint64(1), stats["panic"].Errors, "the master's own panic recovery is counted as an error")
}

func TestAuthorizeMutualTLS(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := tls.NewListener(inner, &tls.Config{
		Certificates: []tls.Certificate{ca.Issue(t, testcert.Leaf{}).TLS},
		ClientAuth:   tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS12,
	})
	auth := &middleware.Authorize{
		Allow:              map[string][]string{"echo": {"alice", "carol.clients.test"}, "*": {"admin"}},
		PublicCapabilities: true,
	}
	require.NoError(t, auth.Validate())
	serve(t, ln, auth.WrapHandler)
	dialAs := func(cn string) *slave.Slave {
		cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
		if cn != "" {
			leaf := testcert.Leaf{CommonName: cn, DNSNames: []string{cn + ".clients.test"}}
			cfg.Certificates = []tls.Certificate{ca.Issue(t, leaf).TLS}
		}
		return dial(t, inner.Addr().String(), &tls.Dialer{Config: cfg})
	}

	alice, bob, carol, admin, anon := dialAs("alice"), dialAs("bob"), dialAs("carol"), dialAs("admin"), dialAs("")
	got, err := alice.CallForBuffer("echo", []byte("hi"))
	require.NoError(t, err, "alice may call echo by common name")
	require.Equal(t, "hi", string(got))
	_, err = carol.CallForBuffer("echo", []byte("hi"))
	require.NoError(t, err, "carol may call echo by DNS name")

	_, err = bob.CallForBuffer("echo", []byte("hi"))
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	var re *slave.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, `[bob bob.clients.test] may not call "echo"`, re.Message, "the reason only: the status says the rest")
	_, err = alice.CallForBuffer("fail", nil)
	require.ErrorIs(t, err, slave.ErrPermissionDenied, "methods not listed fall back to *")
	_, err = admin.CallForBuffer("fail", nil)
	require.ErrorIs(t, err, slave.ErrApplication, "admin passes * and reaches the handler")
	_, err = anon.CallForBuffer("echo", []byte("hi"))
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	require.ErrorContains(t, err, "no verified client certificate")

	caps, err := anon.GetMasterCapabilities()
	require.NoError(t, err, "capabilities are public when configured so")
	require.NotEmpty(t, caps)
	_, err = bob.CallForBuffer("echo", []byte("the connection survives a refusal"))
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	require.Equal(t, uint64(1), bob.PoolStats().Dials)
}

func TestAuthorizeRefusesPlaintext(t *testing.T) {
	auth := &middleware.Authorize{Allow: map[string][]string{"*": {"anyone"}}}
	m := serve(t, nil, auth.WrapHandler)
	s := dial(t, m.Addr().String(), nil)
	_, err := s.CallForBuffer("echo", nil)
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	require.ErrorContains(t, err, "did not come over TLS")
	_, err = s.GetMasterCapabilities()
	require.ErrorIs(t, err, slave.ErrPermissionDenied, "capabilities are guarded unless made public")
}

func TestAuthorizeValidate(t *testing.T) {
	require.ErrorContains(t, (&middleware.Authorize{}).Validate(), "allow")
	require.ErrorContains(t, (&middleware.Authorize{Allow: map[string][]string{"echo": nil}}).Validate(), `allow["echo"]`)
}

func TestStatusOfIsWhatTheCallerGets(t *testing.T) {
	var seen sync.Map
	spy := func(next master.HandlerFunc) master.HandlerFunc {
		return func(op *master.IOOperator) error {
			err := next(op)
			seen.Store(op.Method(), master.StatusOf(op, err))
			return err
		}
	}
	m := serve(t, nil, spy)
	s := dial(t, m.Addr().String(), nil)
	_, _ = s.CallForBuffer("echo", nil)
	_, _ = s.CallForBuffer("fail", nil)
	for method, want := range map[string]frame.Status{"echo": frame.StatusOK, "fail": frame.StatusApplicationError} {
		v, ok := seen.Load(method)
		require.True(t, ok)
		require.Equal(t, want, v)
	}
}

func TestNamedCountersAndContextLogger(t *testing.T) {
	require.Same(t, middleware.DefaultCounters, middleware.NamedCounters(""))
	a := middleware.NamedCounters("a")
	require.Same(t, a, middleware.NamedCounters("a"))
	require.NotSame(t, a, middleware.NamedCounters("b"))

	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	ctx := module.ContextWithLogger(context.Background(), logger)
	mod, err := module.Load(ctx, "middleware", json.RawMessage(`{"module": "metrics", "name": "a"}`))
	require.NoError(t, err)
	require.Same(t, a, mod.(*middleware.Metrics).Sink)
	rec, err := module.Load(ctx, "middleware", json.RawMessage(`{"module": "recover"}`))
	require.NoError(t, err)
	require.Same(t, logger, rec.(*middleware.Recover).Logger, "modules log where the loading context says")
}
