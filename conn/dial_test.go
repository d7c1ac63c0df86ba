package conn_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
)

// prompt bounds how long an operation that should fail "promptly" may take.
// It only keeps a broken implementation from hanging the test; it is not a
// speed assertion.
const prompt = 3 * time.Second

func masterPreface(p frame.Preface) []byte {
	b := make([]byte, frame.PrefaceSize)
	frame.PutPreface(b, p)
	return b
}

// answer is a serve function that sends a preface with status and reads
// the slave's, reporting it on got (when not nil).
func answer(status frame.HandshakeStatus, got chan<- []byte) func(net.Conn) {
	return func(nc net.Conn) {
		if _, err := nc.Write(masterPreface(frame.Preface{Version: frame.Version1, Status: status})); err != nil {
			return
		}
		b := make([]byte, frame.PrefaceSize)
		if _, err := io.ReadFull(nc, b); err != nil {
			return
		}
		if got != nil {
			got <- b
		}
		if status != frame.HandshakeOK {
			return // the master closes after a refusal
		}
		_, _ = io.Copy(io.Discard, nc) // until the slave closes
	}
}

func dialCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestDialHandshakeOK(t *testing.T) {
	got := make(chan []byte, 1)
	addr := testserve.RawTCP(t, answer(frame.HandshakeOK, got))

	c, err := conn.Dial(dialCtx(t, 5*time.Second), &net.Dialer{}, "tcp", addr, conn.DialConfig{})
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, addr, c.RemoteAddr().String())

	b := <-got
	assert.Equal(t, "FRPC", string(b[:4]), "slave preface magic")
	p, err := frame.ParsePreface(b)
	require.NoError(t, err)
	assert.Equal(t, frame.SlavePreface(frame.MaxVersion), p, "version 1, offering version 2")
	assert.Zero(t, hooks.Buffered(c), "Dial must consume exactly the preface")
	assert.Equal(t, frame.Version1, c.Version(), "the master answered version 1")
}

// After Dial returns, neither the handshake's deadline nor the end of its
// context may affect the connection.
func TestDialLeavesNoDeadline(t *testing.T) {
	for _, end := range []string{"deadline", "cancel"} {
		t.Run(end, func(t *testing.T) {
			hdr := make([]byte, frame.ResponseHeaderSize)
			frame.PutResponseHeader(hdr, frame.ResponseHeader{Status: frame.StatusOK, Length: 3})
			send := make(chan struct{})
			addr := testserve.RawTCP(t, func(nc net.Conn) {
				_, _ = nc.Write(masterPreface(frame.Preface{Version: frame.Version1}))
				_, _ = io.ReadFull(nc, make([]byte, frame.PrefaceSize))
				<-send
				_, _ = nc.Write(append(hdr, "abc"...))
				_, _ = io.Copy(io.Discard, nc)
			})

			var ctx context.Context
			var cancel context.CancelFunc
			if end == "deadline" {
				ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
			} else {
				ctx, cancel = context.WithCancel(context.Background())
			}
			defer cancel()
			c, err := conn.Dial(ctx, &net.Dialer{}, "tcp", addr, conn.DialConfig{})
			require.NoError(t, err)
			defer c.Close()

			if end == "cancel" {
				cancel()
			}
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond) // let a leaked AfterFunc run, if any
			assert.False(t, c.Stale(), "a healthy connection whose dial context ended")

			close(send)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
			h, err := c.ReadResponseHeader()
			require.NoError(t, err, "reading after the handshake context ended")
			assert.Equal(t, uint64(3), h.Length)
			body := make([]byte, 3)
			require.NoError(t, c.ReadFull(body))
			assert.Equal(t, "abc", string(body))
		})
	}
}

func TestDialRefused(t *testing.T) {
	for _, tc := range []struct {
		status frame.HandshakeStatus
		want   error
	}{
		{frame.HandshakeOverloaded, conn.ErrMasterOverloaded},
		{frame.HandshakeShuttingDown, conn.ErrMasterShuttingDown},
	} {
		t.Run(tc.status.String(), func(t *testing.T) {
			addr := testserve.RawTCP(t, answer(tc.status, nil))
			c, err := conn.Dial(dialCtx(t, 5*time.Second), &net.Dialer{}, "tcp", addr, conn.DialConfig{})
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), addr, "the error names the master")
		})
	}
	t.Run("unknown status", func(t *testing.T) {
		addr := testserve.RawTCP(t, answer(frame.HandshakeStatus(7), nil))
		c, err := conn.Dial(dialCtx(t, 5*time.Second), &net.Dialer{}, "tcp", addr, conn.DialConfig{})
		require.Error(t, err)
		assert.Nil(t, c)
		assert.NotErrorIs(t, err, conn.ErrMasterOverloaded)
		assert.NotErrorIs(t, err, conn.ErrMasterShuttingDown)
		assert.Contains(t, err.Error(), "handshake status 7")
	})
}

func TestDialNotFastRpc(t *testing.T) {
	for _, tc := range []struct {
		name, reply, shows string
	}{
		{"http", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", `"HTTP/1.1"`},
		{"short", "HTTP", `"HTTP" then end of stream`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := testserve.RawTCP(t, func(nc net.Conn) {
				_, _ = io.WriteString(nc, tc.reply)
				_ = nc.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, nc)
			})
			c, err := conn.Dial(dialCtx(t, 5*time.Second), &net.Dialer{}, "tcp", addr, conn.DialConfig{})
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, frame.ErrBadMagic)
			assert.Contains(t, err.Error(), tc.shows, "the error shows what was received")
		})
	}
	t.Run("silent close", func(t *testing.T) {
		addr := testserve.RawTCP(t, func(nc net.Conn) {})
		_, err := conn.Dial(dialCtx(t, 5*time.Second), &net.Dialer{}, "tcp", addr, conn.DialConfig{})
		require.Error(t, err)
		assert.NotErrorIs(t, err, frame.ErrBadMagic, "nothing was received")
	})
}

func TestDialVersionMismatch(t *testing.T) {
	addr := testserve.RawTCP(t, func(nc net.Conn) {
		_, _ = nc.Write(masterPreface(frame.Preface{Version: 3}))
		_, _ = io.Copy(io.Discard, nc)
	})
	c, err := conn.Dial(dialCtx(t, 5*time.Second), &net.Dialer{}, "tcp", addr, conn.DialConfig{})
	require.Error(t, err)
	assert.Nil(t, c)
	var ve *frame.VersionError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, uint16(3), ve.Remote)
	assert.Equal(t, frame.MaxVersion, ve.Local)

	// A master answering a version above the one offered is refused too.
	addr = testserve.RawTCP(t, func(nc net.Conn) {
		_, _ = nc.Write(masterPreface(frame.Preface{Version: 2}))
		_, _ = io.Copy(io.Discard, nc)
	})
	_, err = conn.Dial(dialCtx(t, 5*time.Second), &net.Dialer{}, "tcp", addr, conn.DialConfig{MaxVersion: 1})
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, uint16(2), ve.Remote)
	assert.Equal(t, frame.Version1, ve.Local)
}

// silent accepts and reads, but never answers.
func silent(accepted chan<- struct{}) func(net.Conn) {
	return func(nc net.Conn) {
		if accepted != nil {
			b := make([]byte, frame.PrefaceSize)
			if _, err := io.ReadFull(nc, b); err != nil {
				return
			}
			accepted <- struct{}{}
		}
		_, _ = io.Copy(io.Discard, nc)
	}
}

func TestDialSilentMasterDeadline(t *testing.T) {
	addr := testserve.RawTCP(t, silent(nil))
	start := time.Now()
	c, err := conn.Dial(dialCtx(t, 300*time.Millisecond), &net.Dialer{}, "tcp", addr, conn.DialConfig{})
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Nil(t, c)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, elapsed, prompt, "Dial must give up at the context's deadline")
}

// The socket deadline and the context's timer expire at the same moment;
// whichever is seen first, the error must be the context's.
func TestDialDeadlineAlwaysReportsContext(t *testing.T) {
	addr := testserve.RawTCP(t, silent(nil))
	for i := range 30 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+i%5)*time.Millisecond)
		_, err := conn.Dial(ctx, &net.Dialer{}, "tcp", addr, conn.DialConfig{})
		cancel()
		require.Error(t, err)
		require.ErrorIs(t, err, context.DeadlineExceeded, "attempt %d: %v", i, err)
	}
}

func TestDialCancelMidHandshake(t *testing.T) {
	accepted := make(chan struct{}, 1)
	addr := testserve.RawTCP(t, silent(accepted))
	ctx, cancel := context.WithCancel(context.Background()) // no deadline: Dial's default applies
	defer cancel()
	go func() {
		select {
		case <-accepted: // the slave's preface arrived: we are mid-handshake
		case <-time.After(5 * time.Second):
		}
		cancel()
	}()
	start := time.Now()
	c, err := conn.Dial(ctx, &net.Dialer{}, "tcp", addr, conn.DialConfig{})
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Nil(t, c)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, elapsed, prompt)
}

type failingDialer struct{ err error }

func (d failingDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, d.err
}

func TestDialDialerError(t *testing.T) {
	c, err := conn.Dial(context.Background(), failingDialer{errBoom}, "tcp", "127.0.0.1:1", conn.DialConfig{})
	assert.Nil(t, c)
	assert.ErrorIs(t, err, errBoom)
}

// A real dial to a closed port fails with the dialer's error.
func TestDialConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = conn.Dial(dialCtx(t, 5*time.Second), &net.Dialer{}, "tcp", addr, conn.DialConfig{})
	require.Error(t, err)
	var oe *net.OpError
	assert.True(t, errors.As(err, &oe), "got %v", err)
}

// hookConn lets a test act between the steps of Dial's handshake.
type hookConn struct {
	net.Conn
	afterRead func() // once, after the first read that returns data
	once      sync.Once
	onPast    func() // in SetDeadline with a past time, before it is set
	pastSet   chan struct{}

	mu       sync.Mutex
	deadline time.Time
}

func (h *hookConn) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	if n > 0 && h.afterRead != nil {
		h.once.Do(h.afterRead)
	}
	return n, err
}

func (h *hookConn) SetDeadline(t time.Time) error {
	past := !t.IsZero() && t.Before(time.Now())
	if past && h.onPast != nil {
		h.onPast()
	}
	h.mu.Lock()
	h.deadline = t
	h.mu.Unlock()
	err := h.Conn.SetDeadline(t)
	if past {
		close(h.pastSet)
	}
	return err
}

type hookDialer struct{ wrap func(net.Conn) net.Conn }

func (d hookDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return d.wrap(nc), nil
}

// The context ends just as the handshake completes, and its interruption
// runs late: Dial must not hand out a connection that the late
// interruption then breaks.
func TestDialCancelRacesCompletion(t *testing.T) {
	addr := testserve.RawTCP(t, answer(frame.HandshakeOK, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupting := make(chan struct{})
	release := make(chan struct{})
	var hc *hookConn
	d := hookDialer{wrap: func(nc net.Conn) net.Conn {
		hc = &hookConn{Conn: nc, pastSet: make(chan struct{})}
		hc.afterRead = func() {
			cancel()
			select { // the interruption has started, and is held
			case <-interrupting:
			case <-time.After(prompt):
			}
		}
		hc.onPast = func() {
			close(interrupting)
			<-release
		}
		return hc
	}}
	c, err := conn.Dial(ctx, d, "tcp", addr, conn.DialConfig{})
	close(release)
	select {
	case <-hc.pastSet:
	case <-time.After(prompt):
		t.Fatal("the interruption never ran")
	}
	if err != nil {
		assert.ErrorIs(t, err, context.Canceled)
		return
	}
	defer c.Close()
	hc.mu.Lock()
	defer hc.mu.Unlock()
	assert.True(t, hc.deadline.IsZero(), "Dial returned a connection with deadline %v", hc.deadline)
}

// blockingDialer waits for its context to end, like a dial to a host that
// drops packets.
type blockingDialer struct{}

func (blockingDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	<-ctx.Done()
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ctx.Err()}
}

// Dial's own timeouts give errors of their own, which do not match
// context.DeadlineExceeded: the caller's context did not end.
func TestDialOwnTimeouts(t *testing.T) {
	t.Run("handshake", func(t *testing.T) {
		addr := testserve.RawTCP(t, silent(nil))
		c, err := conn.Dial(context.Background(), &net.Dialer{}, "tcp", addr, conn.DialConfig{HandshakeTimeout: 100 * time.Millisecond})
		require.Error(t, err)
		assert.Nil(t, c)
		assert.ErrorIs(t, err, conn.ErrNoPreface)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, "fastrpc: the peer at "+addr+" sent no FastRpc preface within 100ms; is it a FastRpc master?", err.Error())
	})
	t.Run("connect", func(t *testing.T) {
		c, err := conn.Dial(context.Background(), blockingDialer{}, "tcp", "127.0.0.1:1", conn.DialConfig{ConnectTimeout: 50 * time.Millisecond})
		require.Error(t, err)
		assert.Nil(t, c)
		assert.ErrorIs(t, err, conn.ErrDialTimeout)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorContains(t, err, "connecting to the master: dial timed out after 50ms")
		assert.Equal(t, 1, strings.Count(err.Error(), "fastrpc: "), err.Error())
	})
	t.Run("the caller's deadline comes first", func(t *testing.T) {
		addr := testserve.RawTCP(t, silent(nil))
		_, err := conn.Dial(dialCtx(t, 50*time.Millisecond), &net.Dialer{}, "tcp", addr, conn.DialConfig{HandshakeTimeout: 5 * time.Second})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, conn.ErrNoPreface)
		_, err = conn.Dial(dialCtx(t, 50*time.Millisecond), blockingDialer{}, "tcp", addr, conn.DialConfig{ConnectTimeout: 5 * time.Second})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, conn.ErrDialTimeout)
	})
	t.Run("messages have one prefix", func(t *testing.T) {
		addr := testserve.RawTCP(t, answer(frame.HandshakeOverloaded, nil))
		_, err := conn.Dial(context.Background(), &net.Dialer{}, "tcp", addr, conn.DialConfig{HandshakeTimeout: time.Second})
		assert.ErrorIs(t, err, conn.ErrMasterOverloaded)
		assert.Equal(t, "fastrpc: handshake with "+addr+": master refused the connection: at its connection limit", err.Error())
	})
}
