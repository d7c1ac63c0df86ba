package slave

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDialGate(t *testing.T) {
	var g dialGate
	refused := syscall.ECONNREFUSED

	// Healthy: every dial goes ahead, none is a probe.
	probe, err := g.enter("m")
	require.NoError(t, err)
	assert.False(t, probe)

	// A failure caused by the caller's own context changes nothing.
	g.done(false, errors.New("context canceled"), false)
	_, err = g.enter("m")
	require.NoError(t, err)

	// A real failure opens a window of 25-50ms.
	before := time.Now()
	g.done(false, refused, true)
	assert.Equal(t, dialBackoffMin, g.backoff)
	assert.True(t, !g.retryAt.Before(before.Add(dialBackoffMin/2)) && !g.retryAt.After(time.Now().Add(dialBackoffMin)), "retryAt %v", g.retryAt.Sub(before))
	_, err = g.enter("m")
	require.ErrorIs(t, err, ErrDialBackoff)
	require.ErrorIs(t, err, refused, "the backoff error wraps the last dial error")
	assert.ErrorContains(t, err, "next dial to m in")

	// A dial that started before the failure and fails too: the window
	// stands, the backoff does not grow.
	g.done(false, refused, true)
	assert.Equal(t, dialBackoffMin, g.backoff)

	// After the window, one probe at a time.
	g.retryAt = time.Now().Add(-time.Millisecond)
	probe, err = g.enter("m")
	require.NoError(t, err)
	assert.True(t, probe)
	_, err = g.enter("m")
	require.ErrorIs(t, err, ErrDialBackoff)
	assert.ErrorContains(t, err, "already retrying")

	// A failed probe doubles the window, up to the maximum.
	g.done(true, refused, true)
	assert.Equal(t, 2*dialBackoffMin, g.backoff)
	for range 10 {
		g.retryAt = time.Time{}
		probe, err = g.enter("m")
		require.NoError(t, err)
		require.True(t, probe)
		g.done(true, refused, true)
	}
	assert.Equal(t, dialBackoffMax, g.backoff)
	assert.False(t, g.retryAt.After(time.Now().Add(dialBackoffMax)))

	// A probe whose caller gave up frees the probe slot only.
	g.retryAt = time.Time{}
	probe, err = g.enter("m")
	require.NoError(t, err)
	g.done(probe, errors.New("context canceled"), false)
	assert.True(t, g.failing)
	assert.Equal(t, dialBackoffMax, g.backoff)

	// Any success ends it all.
	probe, err = g.enter("m")
	require.NoError(t, err)
	g.done(probe, nil, true)
	assert.False(t, g.failing)
	assert.Zero(t, g.backoff)
	probe, err = g.enter("m")
	require.NoError(t, err)
	assert.False(t, probe)
}
