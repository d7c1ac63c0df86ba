package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServeShutsDownGracefully(t *testing.T) {
	started := make(chan struct{}, 1)
	slowStarted = func() { started <- struct{}{} }
	t.Cleanup(func() { slowStarted = nil }) // runs after the demo stopped
	d := startDemo(t)
	// A call in flight when serve is told to stop still gets its answer.
	answered := make(chan result, 1)
	go func() { answered <- fastrpc(t, "call", d.addr, "slow", "-d", "500ms") }()
	select {
	case <-started:
	case <-time.After(hangGuard):
		t.Fatal("the slow call did not start")
	}
	stopped := make(chan int, 1)
	go func() { stopped <- d.stop() }()

	r := <-answered
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "waited 500ms\n", r.stdout)
	require.Equal(t, exitOK, <-stopped)
	log := d.stderr.String()
	assert.Contains(t, log, "methods: echo, add, stats, greet, slow, stream, sha256; try: fastrpc caps "+d.addr+"\n")
	assert.Contains(t, log, "shutting down: calls in flight get up to 10s to finish\n")
	assert.True(t, strings.HasSuffix(log, "stopped\n"), log)

	// Stopped: nothing listens any more.
	r = fastrpc(t, "caps", d.addr)
	requireFailure(t, r, exitCall, "cannot reach "+d.addr)
}

func TestServeLogsCalls(t *testing.T) {
	d := startDemo(t, "--log")
	r := fastrpc(t, "call", d.addr, "echo", "-d", "logged")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Equal(t, exitOK, d.stop())
	assert.Regexp(t, `method=echo`, d.stderr.String())
}

func TestServeCannotListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	r := fastrpc(t, "serve", "--addr", ln.Addr().String())
	requireFailure(t, r, exitCall, "cannot listen on "+ln.Addr().String()+": ", "address already in use")
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "65536": 65536, "64KiB": 64 << 10, "16MiB": 16 << 20, "1GiB": 1 << 30, "2 mb": 2 << 20, "3k": 3 << 10} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "x", "-1", "1TiB", "1.5MiB", "99999999999999999999"} {
		_, err := parseSize(in)
		assert.Error(t, err, in)
	}
}
