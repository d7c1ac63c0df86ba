//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package transport_test

import (
	"context"
	"io/fs"
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/transport"
)

func TestUnixListenerMode(t *testing.T) {
	for _, mode := range []transport.FileMode{0o600, 0o660, 0o777} {
		path := sockPath(t)
		ln, err := (&transport.UnixListener{Path: path, Mode: mode}).Listen(context.Background())
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, fs.ModeSocket, fi.Mode().Type())
		assert.Equal(t, fs.FileMode(mode), fi.Mode().Perm())
		require.NoError(t, ln.Close())
	}
}

// leaveStaleSocket leaves a socket file at path with nothing listening, as
// a process that died would.
func leaveStaleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
	_, err = os.Lstat(path)
	require.NoError(t, err, "the socket file stays")
}

func TestUnixRemoveStale(t *testing.T) {
	ctx := context.Background()
	path := sockPath(t)
	leaveStaleSocket(t, path)

	_, err := (&transport.UnixListener{Path: path}).Listen(ctx)
	require.Error(t, err, "a leftover file is not removed unless asked")
	assert.ErrorContains(t, err, "remove_stale")

	l := &transport.UnixListener{Path: path, RemoveStale: true}
	_, addr := serve(t, l, master.Config{})
	requireEcho(t, newSlave(t, &transport.UnixDialer{}, addr))

	// Now something answers on it: a second listener must not take it.
	_, err = l.Listen(ctx)
	require.Error(t, err)
	assert.ErrorContains(t, err, "another process is listening on it")
	requireEcho(t, newSlave(t, &transport.UnixDialer{}, addr))
}

func TestUnixRemoveStaleLeavesOtherFiles(t *testing.T) {
	path := sockPath(t)
	require.NoError(t, os.WriteFile(path, []byte("precious"), 0o600))
	_, err := (&transport.UnixListener{Path: path, RemoveStale: true}).Listen(context.Background())
	require.Error(t, err)
	assert.ErrorContains(t, err, "is not a socket; not removing it")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "precious", string(b))
}

// The socket file goes away when the master stops serving it, and with
// the Cleanup its loader runs when it was never served.
func TestUnixSocketFileRemoved(t *testing.T) {
	ctx := context.Background()
	path := sockPath(t)
	loader := module.NewLoader(ctx)
	l, err := module.LoadAs[conn.Listener](loader, module.NamespaceListener, obj{"module": "unix", "path": path}.raw(t))
	require.NoError(t, err)
	ln, err := l.Listen(ctx)
	require.NoError(t, err)
	m := master.New(master.Config{})
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	s := newSlave(t, &transport.UnixDialer{}, path)
	require.NoError(t, s.Warm(callCtx(t)), "the master is serving")
	require.NoError(t, s.Close())
	require.NoError(t, m.Close())
	require.NoError(t, <-done)
	assert.NoFileExists(t, path)
	require.NoError(t, l.(module.CleanerUpper).Cleanup(), "nothing left to clean")

	_, err = l.Listen(ctx)
	require.NoError(t, err)
	assert.FileExists(t, path)
	require.NoError(t, loader.Cleanup())
	assert.NoFileExists(t, path, "the loader ran the listener's Cleanup")
}

func TestUnixDialerErrors(t *testing.T) {
	path := sockPath(t)
	d := &transport.UnixDialer{}
	err := dialErr(t, d, path)
	assert.ErrorContains(t, err, "no such file or directory")

	leaveStaleSocket(t, path)
	err = dialErr(t, d, path)
	assert.ErrorContains(t, err, "connection refused")
}
