package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
)

// -H sends metadata with call, caps and bench: a master behind token
// authentication lets the tool in only with the token.
func TestHeaderFlag(t *testing.T) {
	auth := &middleware.TokenAuth{Tokens: []string{"t0k"}}
	m := master.New(master.Config{Middleware: []master.Middleware{auth.WrapHandler}})
	require.NoError(t, m.Register("who", master.MethodInfo{}, func(op *master.IOOperator) error {
		v, _ := op.Metadata().Get("x-user")
		return op.WriteIOFromBuffer([]byte(v))
	}))
	addr := testserve.Serve(t, m).String()

	r := fastrpc(t, "call", "--raw", addr, "who")
	requireFailure(t, r, exitRemote, "permission denied")
	r = fastrpc(t, "call", "--raw", "-H", "authorization=Bearer t0k", "-H", "X-User=ada", addr, "who")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "ada", r.stdout)

	r = fastrpc(t, "caps", "-H", "authorization=Bearer t0k", addr)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "who")
	r = fastrpc(t, "bench", "-H", "authorization=Bearer t0k", "-n", "20", addr, "who")
	require.Equal(t, exitOK, r.code, r.stderr)

	for _, bad := range []string{"novalue", "bad key=v", "=v"} {
		r = fastrpc(t, "call", "-H", bad, addr, "who")
		assert.Equal(t, exitUsage, r.code, "-H %q: %s", bad, r.stderr)
	}
}
