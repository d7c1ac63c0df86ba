package poolimpl_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/poolimpl"
)

// A dial that completes after Close is answered with ErrClosed, and what
// it dialled is closed, by both pools (the contract also allows handing it
// over).
func TestCloseDuringDial(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			d := newPipeDialer(t)
			d.gate = make(chan struct{})
			p, err := k.factory(poolimpl.Options{})(d.dial, 1)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() {
				c, err := p.Acquire(ctxFor(t, 10*time.Second))
				assert.Nil(t, c)
				done <- err
			}()
			require.Eventually(t, func() bool { return d.dials.Load() == 1 }, 3*time.Second, time.Millisecond)
			require.NoError(t, p.Close())
			close(d.gate)
			select {
			case err := <-done:
				assert.ErrorIs(t, err, poolimpl.ErrClosed)
			case <-time.After(3 * time.Second):
				t.Fatal("Acquire stuck")
			}
			s := p.Stats()
			assert.Equal(t, 0, s.Open)
			assert.Equal(t, uint64(0), s.Acquires)
			assert.Equal(t, uint64(1), s.Dials)

			// Nothing dials after Close.
			_, err = p.Acquire(ctxFor(t, time.Second))
			assert.ErrorIs(t, err, poolimpl.ErrClosed)
			assert.Equal(t, int64(1), d.dials.Load(), "a closed pool refuses to dial")
		})
	}
}
