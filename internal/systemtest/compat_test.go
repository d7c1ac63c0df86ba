package systemtest_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/internal/v1peer"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/slave"
)

// Compatibility between protocol versions, against a frozen copy of
// version 1 (internal/v1peer): today's master serves a version 1 slave,
// and today's slave calls a version 1 master, both in version 1.

func compatCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testserve.HangGuard)
	t.Cleanup(cancel)
	return ctx
}

// A version 1 slave against today's master.
func TestCompatV1SlaveV2Master(t *testing.T) {
	m := master.New(master.Config{})
	require.NoError(t, m.Register("echo", master.MethodInfo{Description: "echo", IncomingEncoding: "raw", ReturningEncoding: "raw"}, func(op *master.IOOperator) error {
		require.Nil(t, op.Metadata(), "a version 1 call has no metadata")
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		// Dropped for a version 1 slave, which cannot receive it.
		if err := op.SetResponseMetadata(metadata.Pairs("x-id", "1")); err != nil {
			return err
		}
		return op.WriteIOFromBuffer(b)
	}))
	require.NoError(t, m.Register("fail", master.MethodInfo{}, func(*master.IOOperator) error {
		return master.WithCode(errors.New("nope"), 7)
	}))
	addr := testserve.Serve(t, m).String()

	c, err := v1peer.Dial(addr)
	require.NoError(t, err, "today's master accepts a version 1 slave and answers version 1")
	defer c.Close()
	for _, payload := range [][]byte{nil, []byte("hello"), make([]byte, 1<<20)} {
		r, err := c.Call("echo", payload, time.Second)
		require.NoError(t, err)
		require.Equal(t, v1peer.StatusOK, r.Status)
		require.Equal(t, len(payload), len(r.Payload))
	}
	r, err := c.Call("fail", nil, 0)
	require.NoError(t, err)
	assert.Equal(t, uint8(v1peer.StatusApplicationError), r.Status)
	assert.Equal(t, uint32(7), r.Code)
	assert.Equal(t, "nope", string(r.Payload))
	r, err = c.Call("nosuch", []byte("x"), 0)
	require.NoError(t, err)
	assert.Equal(t, uint8(v1peer.StatusUnknownMethod), r.Status)

	r, err = c.Call(v1peer.CapabilitiesName, nil, 0)
	require.NoError(t, err)
	caps, err := v1peer.ParseCapabilities(r.Payload)
	require.NoError(t, err, "the version 1 body, parsed strictly")
	require.Len(t, caps, 3)
	assert.Equal(t, v1peer.CapabilitiesEncoding, caps[0].ReturningEncoding)
	assert.Equal(t, v1peer.Capability{Name: "echo", Description: "echo", IncomingEncoding: "raw", ReturningEncoding: "raw"}, caps[1])
}

// Today's slave against a version 1 master.
func TestCompatV2SlaveV1Master(t *testing.T) {
	release := make(chan struct{})
	var holds atomic.Int32
	peer := v1peer.Master(t, map[string]v1peer.Handler{
		"echo": func(req []byte) ([]byte, error) { return req, nil },
		"fail": func([]byte) ([]byte, error) {
			return nil, &v1peer.Status{Status: v1peer.StatusApplicationError, Code: 9, Message: "boom"}
		},
		"hold": func(req []byte) ([]byte, error) {
			holds.Add(1)
			select {
			case <-release:
			case <-time.After(testserve.HangGuard):
			}
			return req, nil
		},
	})
	t.Cleanup(func() { close(release) })
	dials := &countingDialer{}
	s, err := slave.New(slave.Config{Address: peer.Addr(), PoolSize: 1, Dialer: dials})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	out, err := s.Call(compatCtx(t), "echo", []byte("hello"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(out))
	_, err = s.Call(compatCtx(t), "fail", nil)
	var re *slave.RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, frame.StatusApplicationError, re.Status)
	assert.Equal(t, uint32(9), re.Code)
	caps, err := s.Capabilities(compatCtx(t))
	require.NoError(t, err)
	assert.Nil(t, caps.Features, "a version 1 master lists no features")
	assert.Len(t, caps.Methods, 4)

	// Metadata cannot travel: refused before sending, connection kept.
	before := peer.Requests()
	_, err = s.Call(metadata.AppendToOutgoingContext(compatCtx(t), "k", "v"), "echo", nil)
	require.ErrorIs(t, err, slave.ErrMetadataUnsupported)
	assert.Contains(t, err.Error(), "nothing was sent")
	assert.Equal(t, before, peer.Requests())

	// A cancelled call closes its connection, as version 1 always did (the
	// master peer sees the close); the next call dials again.
	ctx, cancel := context.WithCancel(compatCtx(t))
	go func() {
		for holds.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = s.Call(ctx, "hold", []byte("x"))
	require.ErrorIs(t, err, context.Canceled)
	out, err = s.Call(compatCtx(t), "echo", []byte("after"))
	require.NoError(t, err)
	assert.Equal(t, "after", string(out))
	assert.EqualValues(t, 2, dials.n.Load())

	assert.Equal(t, []uint16{2, 2}, peer.SlavePrefaces(), "the slave offered version 2 in a version 1 preface")
	assert.Empty(t, peer.Errors(), "the version 1 master saw nothing it could not parse")
}

// countingDialer counts the connections the slave opens.
type countingDialer struct {
	net.Dialer
	n atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.n.Add(1)
	return d.Dialer.DialContext(ctx, network, address)
}
