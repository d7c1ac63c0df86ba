package middleware_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/slave"
)

const secret = "s3cr3t-t0ken-value"

// tokenMaster serves "echo" behind auth and a logger, counting handler
// runs; it returns the address and the log.
func tokenMaster(t *testing.T, auth *middleware.TokenAuth) (string, *atomic.Int32, *testserve.SyncBuffer) {
	t.Helper()
	var ran atomic.Int32
	log := &testserve.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := master.New(master.Config{Logger: logger, Middleware: []master.Middleware{
		(&middleware.Logging{Logger: logger}).WrapHandler, auth.WrapHandler,
	}})
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		ran.Add(1)
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer(b)
	}))
	return testserve.Serve(t, m).String(), &ran, log
}

func tokenSlave(t *testing.T, addr string, mw ...slave.Middleware) *slave.Slave {
	t.Helper()
	s, err := slave.New(slave.Config{Address: addr, PoolSize: 1, Middleware: mw})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestTokenAuth(t *testing.T) {
	addr, ran, log := tokenMaster(t, &middleware.TokenAuth{Tokens: []string{"other", secret}})

	for name, s := range map[string]*slave.Slave{
		"no token":    tokenSlave(t, addr),
		"wrong token": tokenSlave(t, addr, (&middleware.CallToken{Token: "guess"}).WrapCall),
	} {
		_, err := s.Call(bg, "echo", []byte("x"))
		require.ErrorIs(t, err, slave.ErrPermissionDenied, name)
		assert.NotContains(t, err.Error(), "guess", "%s: a token in an error", name)
	}
	_, err := tokenSlave(t, addr).Call(metadata.AppendToOutgoingContext(bg, "authorization", secret), "echo", nil)
	require.ErrorIs(t, err, slave.ErrPermissionDenied, "a token without the Bearer scheme")
	require.Zero(t, ran.Load(), "a refused call reached the handler")

	s := tokenSlave(t, addr, (&middleware.CallToken{Token: secret}).WrapCall)
	out, err := s.Call(bg, "echo", []byte("let in"))
	require.NoError(t, err)
	assert.Equal(t, "let in", string(out))
	require.EqualValues(t, 1, ran.Load())

	// Capabilities are refused too unless public.
	_, err = tokenSlave(t, addr).Capabilities(bg)
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	assert.NotContains(t, log.String(), secret, "the token appears in the master's log")
	assert.NotContains(t, log.String(), "guess")
}

func TestTokenAuthCheckAndRotation(t *testing.T) {
	var current atomic.Value
	current.Store("v1")
	addr, _, _ := tokenMaster(t, &middleware.TokenAuth{
		PublicCapabilities: true,
		Check: func(_ context.Context, token string) error {
			if token != current.Load().(string) {
				return errors.New("stale")
			}
			return nil
		},
	})
	var sent atomic.Value
	sent.Store("v1")
	s := tokenSlave(t, addr, (&middleware.CallToken{Source: func(context.Context) (string, error) {
		return sent.Load().(string), nil
	}}).WrapCall)
	_, err := s.Call(bg, "echo", nil)
	require.NoError(t, err)
	current.Store("v2") // the master rotates first
	_, err = s.Call(bg, "echo", nil)
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	sent.Store("v2")
	_, err = s.Call(bg, "echo", nil)
	require.NoError(t, err)

	_, err = tokenSlave(t, addr).Capabilities(bg)
	require.NoError(t, err, "public capabilities need no token")

	failing := tokenSlave(t, addr, (&middleware.CallToken{Source: func(context.Context) (string, error) {
		return "", errors.New("vault unreachable")
	}}).WrapCall)
	_, err = failing.Call(bg, "echo", nil)
	require.ErrorContains(t, err, "vault unreachable")
	require.ErrorContains(t, err, "nothing was sent")
}

// Both sides from JSON, with the tokens in files.
func TestTokenFromJSON(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	require.NoError(t, os.WriteFile(tokens, []byte("# accepted\nold-token\n\n"+secret+"\n"), 0o600))
	mine := filepath.Join(dir, "mine")
	require.NoError(t, os.WriteFile(mine, []byte(secret+"\n"), 0o600))

	m, err := master.FromJSON(bg, []byte(`{"middleware": [{"module": "token", "tokens_file": "`+tokens+`"}]}`))
	require.NoError(t, err)
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error { return op.WriteNothing() }))
	addr := testserve.Serve(t, m).String()

	s, err := slave.FromJSON(bg, []byte(`{"address": "`+addr+`", "middleware": [{"module": "token", "token_file": "`+mine+`"}]}`))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.Call(bg, "echo", nil)
	require.NoError(t, err)

	_, err = master.FromJSON(bg, []byte(`{"middleware": [{"module": "token"}]}`))
	require.ErrorContains(t, err, "no tokens")
	_, err = master.FromJSON(bg, []byte(`{"middleware": [{"module": "token", "tokens_file": "`+filepath.Join(dir, "missing")+`"}]}`))
	require.ErrorContains(t, err, "tokens_file")
	_, err = slave.FromJSON(bg, []byte(`{"address": "`+addr+`", "middleware": [{"module": "token"}]}`))
	require.ErrorContains(t, err, "no token")
}

// A version 1 slave carries no metadata: TokenAuth refuses it, and a
// CallToken slave pinned to version 1 fails before sending.
func TestTokenOverVersion1(t *testing.T) {
	addr, ran, _ := tokenMaster(t, &middleware.TokenAuth{Tokens: []string{secret}})
	s, err := slave.New(slave.Config{Address: addr, PoolSize: 1, MaxProtocolVersion: 1,
		Middleware: []slave.Middleware{(&middleware.CallToken{Token: secret}).WrapCall}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.Call(bg, "echo", nil)
	require.ErrorIs(t, err, slave.ErrMetadataUnsupported)
	require.ErrorContains(t, err, "nothing was sent")
	plain, err := slave.New(slave.Config{Address: addr, PoolSize: 1, MaxProtocolVersion: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = plain.Close() })
	_, err = plain.Call(bg, "echo", nil)
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	require.Zero(t, ran.Load())
}
