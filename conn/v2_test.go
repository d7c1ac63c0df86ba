package conn_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/metadata"
)

// v2Pair returns a slave and a master connection that negotiated with the
// slave offering slaveMax.
func v2Pair(t *testing.T, slaveMax uint16) (slaveSide, masterSide *conn.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan *conn.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		mc := conn.New(nc, conn.Config{})
		if mc.ServerHandshake(0) != nil {
			_ = nc.Close()
			accepted <- nil
			return
		}
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		accepted <- mc
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sc, err := conn.Dial(ctx, &net.Dialer{}, "tcp", ln.Addr().String(), conn.DialConfig{MaxVersion: slaveMax})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sc.Close() })
	mc := <-accepted
	require.NotNil(t, mc)
	t.Cleanup(func() { _ = mc.Close() })
	_ = sc.SetDeadline(time.Now().Add(5 * time.Second))
	return sc, mc
}

func TestServerHandshakeNegotiates(t *testing.T) {
	sc, mc := v2Pair(t, 0)
	assert.Equal(t, frame.Version2, sc.Version())
	assert.Equal(t, frame.Version2, mc.Version())
	sc, mc = v2Pair(t, 1)
	assert.Equal(t, frame.Version1, sc.Version())
	assert.Equal(t, frame.Version1, mc.Version())
}

func TestV2RequestWithMetadataAndIDs(t *testing.T) {
	sc, mc := v2Pair(t, 0)
	for id := uint64(1); id <= 3; id++ {
		require.NoError(t, sc.WriteRequestHeader(frame.RequestHeader{Method: 7, Length: 2, Metadata: uint32(frame.MetadataPairSize("k", "v")), ID: 99}))
		require.NoError(t, sc.WriteMetadata(metadata.Pairs("k", "v")))
		_, _ = sc.Write([]byte("hi"))
		require.NoError(t, sc.Flush())

		h, err := mc.ReadRequestHeader()
		require.NoError(t, err)
		assert.Equal(t, id, h.ID, "the connection numbers calls itself")
		block, err := mc.ReadMetadata(h.Metadata)
		require.NoError(t, err)
		assert.Equal(t, frame.AppendMetadataPair(nil, "k", "v"), block)
		body := make([]byte, h.Length)
		require.NoError(t, mc.ReadFull(body))
		assert.Equal(t, "hi", string(body))

		require.NoError(t, mc.WriteResponseHeader(frame.ResponseHeader{ID: h.ID}))
		require.NoError(t, mc.Flush())
		rh, err := sc.ReadResponseHeader()
		require.NoError(t, err)
		assert.Equal(t, id, rh.ID)
	}
}

func TestV2ResponseForAnotherCall(t *testing.T) {
	sc, mc := v2Pair(t, 0)
	require.NoError(t, sc.WriteRequestHeader(frame.RequestHeader{Method: 7}))
	require.NoError(t, sc.Flush())
	_, err := mc.ReadRequestHeader()
	require.NoError(t, err)
	require.NoError(t, mc.WriteResponseHeader(frame.ResponseHeader{ID: 2}))
	require.NoError(t, mc.WriteResponseHeader(frame.ResponseHeader{Status: frame.StatusShuttingDown}))
	require.NoError(t, mc.Flush())
	_, err = sc.ReadResponseHeader()
	require.ErrorIs(t, err, conn.ErrCallID)
	h, err := sc.ReadResponseHeader()
	require.NoError(t, err, "the notice of a closing connection answers any call")
	assert.Equal(t, frame.StatusShuttingDown, h.Status)
}

func TestV2CancelFrame(t *testing.T) {
	sc, mc := v2Pair(t, 0)
	require.NoError(t, sc.WriteRequestHeader(frame.RequestHeader{Method: 7}))
	require.NoError(t, sc.WriteCancel())
	h, err := mc.ReadRequestHeader()
	require.NoError(t, err)
	ok, err := hooks.TakeCancel(mc, h.ID+1)
	require.NoError(t, err)
	assert.False(t, ok, "a cancel for another call stays")
	ok, err = hooks.TakeCancel(mc, h.ID)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Zero(t, hooks.Buffered(mc))
}

func TestVersion1RefusesV2Frames(t *testing.T) {
	sc, _ := v2Pair(t, 1)
	require.ErrorIs(t, sc.WriteRequestHeader(frame.RequestHeader{Method: 7, Metadata: 4}), conn.ErrVersion1)
	require.ErrorIs(t, sc.WriteCancel(), conn.ErrVersion1)
}

func TestReadMetadataBounded(t *testing.T) {
	_, mc := v2Pair(t, 0)
	_, err := mc.ReadMetadata(frame.MaxMetadataSize + 1)
	require.ErrorIs(t, err, frame.ErrMetadata)
}
