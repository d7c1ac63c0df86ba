//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package conn_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
)

// eventually bounds waiting for a TCP event (FIN, RST, data) to arrive.
const eventually = 5 * time.Second

func TestStaleHealthy(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	assert.False(t, c.Stale())

	// Still healthy after a full exchange.
	_, err := c.WriteString("ping")
	require.NoError(t, err)
	require.NoError(t, c.Flush())
	got := make([]byte, 4)
	_, err = io.ReadFull(b, got)
	require.NoError(t, err)
	_, err = b.Write([]byte("pong"))
	require.NoError(t, err)
	require.NoError(t, c.ReadFull(got))
	assert.False(t, c.Stale())
}

func TestStalePeerClosed(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	require.NoError(t, b.Close())
	require.Eventually(t, c.Stale, eventually, time.Millisecond)
}

func TestStalePeerHalfClosed(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	require.NoError(t, b.CloseWrite())
	require.Eventually(t, c.Stale, eventually, time.Millisecond)
}

func TestStaleUnsolicitedByte(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	_, err := b.Write([]byte{0x5a})
	require.NoError(t, err)
	require.Eventually(t, c.Stale, eventually, time.Millisecond)
	// Stale peeks: the byte is still there to be read.
	got := make([]byte, 1)
	require.NoError(t, c.ReadFull(got))
	assert.Equal(t, byte(0x5a), got[0])
	assert.False(t, c.Stale(), "nothing pending any more")
}

func TestStaleBuffered(t *testing.T) {
	// Bytes already in the read buffer count, socket or not.
	c := conn.New(&fakeConn{r: strings.NewReader("xy")}, conn.Config{})
	one := make([]byte, 1)
	require.NoError(t, c.ReadFull(one))
	require.Equal(t, 1, hooks.Buffered(c))
	assert.True(t, c.Stale(), "a byte is buffered")
}

func TestStalePeerReset(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	require.NoError(t, b.SetLinger(0))
	require.NoError(t, b.Close())
	require.Eventually(t, c.Stale, eventually, time.Millisecond)
}

func TestStaleClosedLocally(t *testing.T) {
	a, _ := tcpPair(t)
	c := conn.New(a, conn.Config{})
	require.NoError(t, c.Close())
	assert.True(t, c.Stale())
}

// A read deadline that passed while the connection sat idle (a previous
// call's deadline, say) says nothing about the connection itself.
func TestStaleIgnoresExpiredDeadline(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	require.NoError(t, c.SetDeadline(time.Unix(1, 0)))
	assert.False(t, c.Stale(), "healthy, with an expired deadline")

	require.NoError(t, c.SetDeadline(time.Now().Add(-time.Second)))
	_, err := b.Write([]byte{1})
	require.NoError(t, err)
	require.Eventually(t, c.Stale, eventually, time.Millisecond, "unsolicited byte, with an expired deadline")
}

func TestStaleExpiredDeadlinePeerClosed(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	require.NoError(t, c.SetReadDeadline(time.Unix(1, 0)))
	require.NoError(t, b.Close())
	require.Eventually(t, c.Stale, eventually, time.Millisecond)
}

func TestStaleNoSocket(t *testing.T) {
	a, b := pipePair(t)
	c := conn.New(a, conn.Config{})
	assert.False(t, c.Stale())
	require.NoError(t, b.Close())
	assert.False(t, c.Stale(), "without a socket only buffered bytes count")
}

func TestStaleAllocs(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	stale := false
	allocs := testing.AllocsPerRun(1000, func() { stale = stale || c.Stale() })
	assert.Zero(t, allocs)
	assert.False(t, stale)

	require.NoError(t, b.Close())
	require.Eventually(t, c.Stale, eventually, time.Millisecond)
	allocs = testing.AllocsPerRun(1000, func() { stale = c.Stale() })
	assert.Zero(t, allocs, "on a closed connection too")
	assert.True(t, stale)
}

// With ProbeAfter, a connection that just read a response is trusted
// without a peek for that long, and probed again after it.
func TestStaleProbeAfterWindow(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{ProbeAfter: 300 * time.Millisecond})
	var hdr [frame.ResponseHeaderSize]byte
	frame.PutResponseHeader(hdr[:], frame.ResponseHeader{Status: frame.StatusOK})
	_, err := b.Write(hdr[:])
	require.NoError(t, err)
	_, err = c.ReadResponseHeader()
	require.NoError(t, err)
	require.NoError(t, b.Close())
	time.Sleep(50 * time.Millisecond) // the FIN has arrived
	assert.False(t, c.Stale(), "within the window the socket is not peeked at")
	require.Eventually(t, c.Stale, eventually, time.Millisecond, "after the window the peek finds the close")

	// Without ProbeAfter (the default) the close is seen at once.
	a2, b2 := tcpPair(t)
	c2 := conn.New(a2, conn.Config{})
	_, err = b2.Write(hdr[:])
	require.NoError(t, err)
	_, err = c2.ReadResponseHeader()
	require.NoError(t, err)
	require.NoError(t, b2.Close())
	require.Eventually(t, c2.Stale, time.Second, time.Millisecond)
}
