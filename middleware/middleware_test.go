package middleware_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// bg is the context of calls that need no deadline.
var bg = context.Background()

func handlers() map[string]master.Handler {
	return map[string]master.Handler{
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

// serve starts a master with mw on ln (a loopback TCP listener when nil)
// and returns the address it serves.
func serve(t *testing.T, ln net.Listener, mw ...master.Middleware) string {
	t.Helper()
	m := master.New(master.Config{Middleware: mw})
	for name, h := range handlers() {
		require.NoError(t, m.Register(name, master.MethodInfo{}, h))
	}
	if ln == nil {
		return testserve.Serve(t, m).String()
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() { _ = m.Close(); <-done })
	return ln.Addr().String()
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
	s := dial(t, serve(t, nil, logging.WrapHandler, rec.WrapHandler), nil)

	got, err := s.Call(bg, "echo", []byte("hello"))
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))
	_, err = s.Call(bg, "fail", nil)
	require.ErrorIs(t, err, slave.ErrApplication)
	_, err = s.Call(bg, "panic", []byte("xyz"))
	require.ErrorIs(t, err, slave.ErrHandlerPanic)
	var re *slave.RemoteError
	require.ErrorAs(t, err, &re)
	require.NotContains(t, re.Message, "kaboom", "panic details stay on the master")
	_, err = s.Call(bg, "echo", []byte("connection survived"))
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
	counters := new(middleware.Counters)
	mw := &middleware.Metrics{Sink: counters}
	s := dial(t, serve(t, nil, mw.WrapHandler), nil)
	for range 5 {
		_, err := s.Call(bg, "echo", []byte("abc"))
		require.NoError(t, err)
	}
	_, err := s.Call(bg, "fail", nil)
	require.Error(t, err)
	_, err = s.Call(bg, "panic", nil)
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
	assert.Len(t, echo.Buckets, len(echo.Bounds)+1)
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
	got, err := alice.Call(bg, "echo", []byte("hi"))
	require.NoError(t, err, "alice may call echo by common name")
	require.Equal(t, "hi", string(got))
	_, err = carol.Call(bg, "echo", []byte("hi"))
	require.NoError(t, err, "carol may call echo by DNS name")

	_, err = bob.Call(bg, "echo", []byte("hi"))
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	var re *slave.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, `[bob bob.clients.test] may not call "echo"`, re.Message, "the reason only: the status says the rest")
	_, err = alice.Call(bg, "fail", nil)
	require.ErrorIs(t, err, slave.ErrPermissionDenied, "methods not listed fall back to *")
	_, err = admin.Call(bg, "fail", nil)
	require.ErrorIs(t, err, slave.ErrApplication, "admin passes * and reaches the handler")
	_, err = anon.Call(bg, "echo", []byte("hi"))
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	require.ErrorContains(t, err, "no verified client certificate")

	caps, err := anon.Capabilities(bg)
	require.NoError(t, err, "capabilities are public when configured so")
	require.NotEmpty(t, caps)
	_, err = bob.Call(bg, "echo", []byte("the connection survives a refusal"))
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	require.Equal(t, uint64(1), bob.PoolStats().Dials)
}

func TestAuthorizeRefusesPlaintext(t *testing.T) {
	auth := &middleware.Authorize{Allow: map[string][]string{"*": {"anyone"}}}
	s := dial(t, serve(t, nil, auth.WrapHandler), nil)
	_, err := s.Call(bg, "echo", nil)
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	require.ErrorContains(t, err, "did not come over TLS")
	_, err = s.Capabilities(bg)
	require.ErrorIs(t, err, slave.ErrPermissionDenied, "capabilities are guarded unless made public")
}

func TestAuthorizeValidate(t *testing.T) {
	require.ErrorContains(t, (&middleware.Authorize{}).Validate(), "allow")
	require.ErrorContains(t, (&middleware.Authorize{Allow: map[string][]string{"echo": nil}}).Validate(), `allow["echo"]`)
}

// TestStatusOfIsWhatTheCallerGets: for every outcome of a handler, the
// status master.StatusOf reports to middleware is the status the caller's
// call gets (nil error for StatusOK, else the *slave.RemoteError's), and
// both are the status that outcome is documented to give.
func TestStatusOfIsWhatTheCallerGets(t *testing.T) {
	var seen sync.Map // method -> the status StatusOf reported
	spy := func(next master.Handler) master.Handler {
		return func(op *master.IOOperator) error {
			err := next(op)
			seen.Store(op.Method(), master.StatusOf(op, err))
			return err
		}
	}
	quiet := slog.New(slog.DiscardHandler)
	// Recover inside the spy turns a panic into an error the spy sees.
	m := master.New(master.Config{Logger: quiet, Middleware: []master.Middleware{spy, (&middleware.Recover{Logger: quiet}).WrapHandler}})
	cases := []struct {
		method string
		h      master.Handler
		want   frame.Status
		code   uint32
	}{
		{"ok", func(op *master.IOOperator) error { return op.WriteIOFromBuffer([]byte("fine")) }, frame.StatusOK, 0},
		{"ok-nothing-written", func(*master.IOOperator) error { return nil }, frame.StatusOK, 0},
		{"app-error", func(*master.IOOperator) error { return errors.New("it failed") }, frame.StatusApplicationError, 0},
		{"coded-error", func(*master.IOOperator) error { return master.WithCode(errors.New("coded"), 42) }, frame.StatusApplicationError, 42},
		{"panic", func(*master.IOOperator) error { panic("kaboom") }, frame.StatusHandlerPanic, 0},
		{"permission-denied", func(*master.IOOperator) error {
			return fmt.Errorf("not you: %w", master.ErrPermissionDenied)
		}, frame.StatusPermissionDenied, 0},
		{"deadline-exceeded", func(*master.IOOperator) error {
			return fmt.Errorf("backend too slow: %w", context.DeadlineExceeded)
		}, frame.StatusDeadlineExceeded, 0},
		{"responded-then-error", func(op *master.IOOperator) error {
			if err := op.WriteIOFromBuffer([]byte("answered")); err != nil {
				return err
			}
			return errors.New("failed after answering")
		}, frame.StatusOK, 0},
		{"wrote-error-then-nil", func(op *master.IOOperator) error { return op.WriteError("written") }, frame.StatusApplicationError, 0},
		{"wrote-error-then-denied", func(op *master.IOOperator) error {
			_ = op.WriteError("written first")
			return master.ErrPermissionDenied
		}, frame.StatusApplicationError, 0},
	}
	for _, c := range cases {
		require.NoError(t, m.Register(c.method, master.MethodInfo{}, c.h))
	}
	s := dial(t, testserve.Serve(t, m).String(), nil)

	callerStatus := func(err error) (frame.Status, uint32) {
		t.Helper()
		if err == nil {
			return frame.StatusOK, 0
		}
		var re *slave.RemoteError
		require.ErrorAs(t, err, &re, "the call failed without the master's answer")
		return re.Status, re.Code
	}
	for _, c := range cases {
		_, err := s.Call(bg, c.method, nil)
		got, code := callerStatus(err)
		// A handler that wrote its answer may still be running when the
		// caller has it.
		var v any
		require.Eventually(t, func() (ok bool) { v, ok = seen.Load(c.method); return ok }, 10*time.Second, time.Millisecond,
			"%s: the middleware did not see the call", c.method)
		assert.Equal(t, got, v, "%s: StatusOf told middleware %v, the caller got %v (%v)", c.method, v, got, err)
		assert.Equal(t, c.want, got, "%s: caller's status (%v)", c.method, err)
		assert.Equal(t, c.code, code, "%s: caller's code", c.method)
	}
	// The built-in capabilities method goes through middleware too.
	_, err := s.Capabilities(bg)
	require.NoError(t, err)
	var v any
	require.Eventually(t, func() (ok bool) { v, ok = seen.Load(frame.CapabilitiesName); return ok }, 10*time.Second, time.Millisecond)
	assert.Equal(t, frame.StatusOK, v)
	// An unknown method is answered before any middleware runs: the caller
	// gets StatusUnknownMethod and nothing reaches StatusOf.
	_, err = s.Call(bg, "no-such-method", nil)
	got, _ := callerStatus(err)
	assert.Equal(t, frame.StatusUnknownMethod, got)
	_, ok := seen.Load("no-such-method")
	assert.False(t, ok, "middleware saw a call to an unknown method")
}

func TestNamedCountersAndContextLogger(t *testing.T) {
	a := middleware.NamedCounters("a")
	require.Same(t, a, middleware.NamedCounters("a"))
	require.NotSame(t, a, middleware.NamedCounters("b"))

	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	l := module.NewLoader(module.ContextWithLogger(context.Background(), logger))
	t.Cleanup(func() { require.NoError(t, l.Cleanup()) })
	mod, err := module.LoadAs[master.MiddlewareModule](l, module.NamespaceMasterMiddleware, json.RawMessage(`{"module": "metrics", "name": "a"}`))
	require.NoError(t, err)
	require.Same(t, a, mod.(*middleware.Metrics).Sink)
	rec, err := module.LoadAs[master.MiddlewareModule](l, module.NamespaceMasterMiddleware, json.RawMessage(`{"module": "recover"}`))
	require.NoError(t, err)
	require.Same(t, logger, rec.(*middleware.Recover).Logger, "modules log where the loading context says")
	call, err := module.LoadAs[slave.MiddlewareModule](l, module.NamespaceSlaveMiddleware, json.RawMessage(`{"module": "metrics", "name": "a"}`))
	require.NoError(t, err)
	require.Same(t, a, call.(*middleware.CallMetrics).Sink, "the slave's metrics take the same fields")
	callLog, err := module.LoadAs[slave.MiddlewareModule](l, module.NamespaceSlaveMiddleware, json.RawMessage(`{"module": "logging", "level": "debug"}`))
	require.NoError(t, err)
	require.Same(t, logger, callLog.(*middleware.CallLogging).Logger)
}

// Each module serves one side, in its namespace: the same JSON name gets
// the module of the side that loads it, and a master-only module is not
// found among the slave's.
func TestModulesOneNamespaceEach(t *testing.T) {
	ids := func(ns string) (out []module.ID) {
		for _, i := range module.Namespace(ns) {
			out = append(out, i.ID)
		}
		return out
	}
	require.Equal(t, []module.ID{"master.middleware.authorize", "master.middleware.logging", "master.middleware.metrics", "master.middleware.recover", "master.middleware.token"},
		ids(module.NamespaceMasterMiddleware))
	require.Equal(t, []module.ID{"slave.middleware.logging", "slave.middleware.metrics", "slave.middleware.token"}, ids(module.NamespaceSlaveMiddleware))
	require.Empty(t, ids("middleware"), "the old shared namespace is gone")

	l := module.NewLoader(context.Background())
	t.Cleanup(func() { require.NoError(t, l.Cleanup()) })
	for name, raw := range map[string]string{
		"logging":   `{"module": "logging"}`,
		"metrics":   `{"module": "metrics"}`,
		"recover":   `{"module": "recover"}`,
		"authorize": `{"module": "authorize", "allow": {"*": ["a"]}}`,
	} {
		m, err := module.LoadAs[module.Module](l, module.NamespaceMasterMiddleware, json.RawMessage(raw))
		require.NoError(t, err, name)
		_, isCall := m.(slave.MiddlewareModule)
		require.False(t, isCall, "%s on the master has no WrapCall", name)
	}
	for _, name := range []string{"logging", "metrics"} {
		m, err := module.LoadAs[module.Module](l, module.NamespaceSlaveMiddleware, json.RawMessage(`{"module": "`+name+`"}`))
		require.NoError(t, err, name)
		_, isHandler := m.(master.MiddlewareModule)
		require.False(t, isHandler, "%s on the slave has no WrapHandler", name)
	}
	_, err := module.LoadAs[slave.MiddlewareModule](l, module.NamespaceSlaveMiddleware, json.RawMessage(`{"module": "authorize", "allow": {"*": ["a"]}}`))
	require.ErrorIs(t, err, module.ErrNotFound)
	require.EqualError(t, err, `fastrpc: module "slave.middleware.authorize" not registered; known in namespace "slave.middleware": `+
		`slave.middleware.logging, slave.middleware.metrics, slave.middleware.token (in other namespaces: master.middleware.authorize)`)
}
