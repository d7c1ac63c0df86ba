package errtext

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errSentinel = errors.New("fastrpc: master unavailable")

func TestErrorfOnePrefix(t *testing.T) {
	inner := Errorf("connecting to %s: %w", "127.0.0.1:1", io.ErrUnexpectedEOF)
	assert.Equal(t, "fastrpc: connecting to 127.0.0.1:1: unexpected EOF", inner.Error())

	outer := Errorf("call %q: %w: %w", "x", errSentinel, inner)
	assert.Equal(t, `fastrpc: call "x": master unavailable: connecting to 127.0.0.1:1: unexpected EOF`, outer.Error())
	assert.ErrorIs(t, outer, errSentinel)
	assert.ErrorIs(t, outer, io.ErrUnexpectedEOF)
	assert.NotErrorIs(t, outer, context.Canceled)
}

func TestErrorfKeepsTypes(t *testing.T) {
	type myErr struct{ error }
	e := Errorf("reading: %w", myErr{errors.New("boom")})
	var target myErr
	require.ErrorAs(t, e, &target)
	assert.Equal(t, "fastrpc: reading: boom", e.Error())
	// %v shows an error without wrapping it.
	assert.NotErrorIs(t, Errorf("seen: %v", errSentinel), errSentinel)
	assert.Equal(t, "fastrpc: seen: master unavailable", Errorf("seen: %v", errSentinel).Error())
}

func TestText(t *testing.T) {
	assert.Equal(t, "master unavailable", Text(errSentinel))
	assert.Equal(t, "plain", Text(errors.New("plain")))
}
