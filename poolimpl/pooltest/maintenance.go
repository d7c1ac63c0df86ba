package pooltest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// tick is the CheckPeriod of the maintenance tests: short, so that they
// finish soon; nothing asserts on how soon.
const tick = module.Duration(5 * time.Millisecond)

// optionsTests are the rules of poolimpl.Options, run with
// Config.Maintains.
var optionsTests = []contractTest{
	{"InvalidOptionsRefused", testInvalidOptionsRefused},
	{"MinIdleKeepsConnsWarm", testMinIdleKeepsConnsWarm},
	{"MinIdleRetriesFailedDials", testMinIdleRetriesFailedDials},
	{"IdleTimeoutClosesIdleConns", testIdleTimeoutClosesIdleConns},
	{"IdleTimeoutSparesMinIdle", testIdleTimeoutSparesMinIdle},
	{"MaxLifetimeClosesOldConns", testMaxLifetimeClosesOldConns},
	{"CloseStopsMaintenance", testCloseStopsMaintenance},
	{"IdleAcquireReleaseAllocateNothingWithOptions", testIdleAcquireReleaseAllocateNothingWithOptions},
}

// A Factory refuses Options that fail Options.Check, naming the field.
func testInvalidOptionsRefused(t *testing.T, s *suite) {
	d := newFakeDialer(t, 2)
	for want, opts := range map[string]poolimpl.Options{
		"min_idle 3 exceeds the pool size 2": {MinIdle: 3},
		"min_idle":                           {MinIdle: -1},
		"idle_timeout":                       {IdleTimeout: -1},
		"max_lifetime":                       {MaxLifetime: -1},
		"check_period":                       {CheckPeriod: -1},
	} {
		p, err := s.build(d.dial, 2, opts)
		if err == nil {
			_ = p.Close()
			t.Errorf("%+v: a pool was built; want an error about %s", opts, want)
			continue
		}
		expect(t, strings.Contains(err.Error(), want), "%+v: error %q does not mention %s", opts, err, want)
	}
}

// MinIdle connections are dialled with no Acquire, and refilled as they
// are taken, up to the pool's size only.
func testMinIdleKeepsConnsWarm(t *testing.T, s *suite) {
	const maxSize = 3
	d := newFakeDialer(t, maxSize)
	p := s.newPoolWith(t, d.dial, maxSize, poolimpl.Options{MinIdle: 2, CheckPeriod: tick})
	waitFor(t, p, "two warm connections, with no Acquire", func(st poolimpl.Stats) bool {
		return st.Idle == 2 && st.Open == 2
	})
	a, b := acquire2(t, p)
	waitFor(t, p, "refilled, up to the size only", func(st poolimpl.Stats) bool {
		return st.Idle == 1 && st.Open == maxSize
	})
	c := acquire(t, p)
	st := p.Stats()
	expectEqual(t, st.InUse, maxSize, "InUse")
	expectEqual(t, st.Acquires, uint64(3), "Acquires")
	expectEqual(t, st.Waits, uint64(0), "Waits: warm connections need no wait")
	for _, c := range []poolimpl.Conn{a, b, c} {
		p.Release(c)
	}
	dials, maxLive := d.counts()
	expectEqual(t, dials, maxSize, "nothing dialled beyond the size")
	expect(t, maxLive <= maxSize, "%d connections alive at once, more than %d", maxLive, maxSize)
	checkSettled(t, p, maxSize)
}

// Warm-up dials that fail are retried in later rounds.
func testMinIdleRetriesFailedDials(t *testing.T, s *suite) {
	d := newFakeDialer(t, 2)
	d.hook = func(_ context.Context, n int) error {
		if n <= 2 {
			return errDial
		}
		return nil
	}
	p := s.newPoolWith(t, d.dial, 2, poolimpl.Options{MinIdle: 2, CheckPeriod: tick})
	waitFor(t, p, "warm despite the failed dials", func(st poolimpl.Stats) bool {
		return st.Idle == 2
	})
	st := p.Stats()
	expectEqual(t, st.DialErrors, uint64(2), "DialErrors")
	expectEqual(t, st.Dials, uint64(4), "Dials")
	expectEqual(t, st.Open, 2, "Open")
}

// IdleTimeout closes connections left idle that long, never one in use,
// and the pool dials again on demand.
func testIdleTimeoutClosesIdleConns(t *testing.T, s *suite) {
	d := newFakeDialer(t, 2)
	p := s.newPoolWith(t, d.dial, 2, poolimpl.Options{IdleTimeout: module.Duration(30 * time.Millisecond), CheckPeriod: tick})
	a, b := acquire2(t, p)
	p.Release(b)
	waitFor(t, p, "the idle connection timed out", func(st poolimpl.Stats) bool { return st.Open == 1 })
	expect(t, d.peerSeesEOF(t, b), "timed out: closed")
	expect(t, !d.track(a).gone.Load(), "a connection in use is never closed under its caller")
	expectEqual(t, p.Stats().Expired, uint64(1), "Expired")

	p.Release(a)
	waitFor(t, p, "the other one too, once idle", func(st poolimpl.Stats) bool { return st.Open == 0 })
	expect(t, d.peerSeesEOF(t, a), "timed out: closed")
	st := p.Stats()
	expectEqual(t, st.Expired, uint64(2), "Expired")
	expectEqual(t, st.Idle, 0, "Idle")

	c, err := p.Acquire(ctxFor(t, prompt))
	requireNoError(t, err, "the pool dials again on demand")
	p.Release(c)
	dials, _ := d.counts()
	expectEqual(t, dials, 3, "dials")
}

// IdleTimeout closes idle connections beyond MinIdle only: the warm ones
// stay (the most recently used among them), and are not redialled.
func testIdleTimeoutSparesMinIdle(t *testing.T, s *suite) {
	d := newFakeDialer(t, 3)
	p := s.newPoolWith(t, d.dial, 3, poolimpl.Options{
		MinIdle:     1,
		IdleTimeout: module.Duration(20 * time.Millisecond),
		CheckPeriod: module.Duration(2 * time.Millisecond),
	})
	var held []poolimpl.Conn
	for range 3 {
		held = append(held, acquire(t, p))
	}
	for _, c := range held {
		p.Release(c)
	}
	waitFor(t, p, "the connections beyond MinIdle timed out", func(st poolimpl.Stats) bool { return st.Open == 1 })
	time.Sleep(50 * time.Millisecond) // well past IdleTimeout: still one warm
	st := p.Stats()
	expectEqual(t, st.Idle, 1, "Idle: %+v", st)
	expectEqual(t, st.Expired, uint64(2), "Expired")
	dials, _ := d.counts()
	expectEqual(t, dials, 3, "the warm connection is kept, not redialled")
}

// MaxLifetime closes connections that old: idle ones in the background,
// one in use only when it is released.
func testMaxLifetimeClosesOldConns(t *testing.T, s *suite) {
	const lifetime = 60 * time.Millisecond
	d := newFakeDialer(t, 2)
	p := s.newPoolWith(t, d.dial, 2, poolimpl.Options{MaxLifetime: module.Duration(lifetime), CheckPeriod: tick})
	a, b := acquire2(t, p)
	p.Release(a)
	waitFor(t, p, "the idle connection outlived MaxLifetime", func(st poolimpl.Stats) bool { return st.Open == 1 })
	expect(t, d.peerSeesEOF(t, a), "expired: closed")
	time.Sleep(time.Until(d.track(b).dialled.Add(lifetime + 2*time.Duration(tick)))) // b too is past its lifetime now
	expect(t, !d.track(b).gone.Load(), "a connection in use is never closed under its caller")

	p.Release(b)
	waitFor(t, p, "released past its lifetime: closed", func(st poolimpl.Stats) bool { return st.Open == 0 })
	expect(t, d.peerSeesEOF(t, b), "expired: closed")
	expectEqual(t, p.Stats().Expired, uint64(2), "Expired")
}

// Close stops the background work: the warm connections are closed and
// nothing is dialled afterwards.
func testCloseStopsMaintenance(t *testing.T, s *suite) {
	d := newFakeDialer(t, 2)
	p := s.newPoolWith(t, d.dial, 2, poolimpl.Options{
		MinIdle:     1,
		IdleTimeout: module.Duration(time.Hour),
		CheckPeriod: module.Duration(time.Millisecond),
	})
	waitFor(t, p, "warm", func(st poolimpl.Stats) bool { return st.Idle == 1 })
	requireNoError(t, p.Close(), "Close")
	dials, _ := d.counts()
	expect(t, d.allGone(), "Close closes the warm connection")
	time.Sleep(20 * time.Millisecond) // twenty check periods
	after, _ := d.counts()
	expectEqual(t, after, dials, "dials: no dial after Close")
	expectEqual(t, p.Stats().Open, 0, "Open")
}

// Acquire and Release of an idle connection stay allocation-free with
// every option on (with Config.AllocFree).
func testIdleAcquireReleaseAllocateNothingWithOptions(t *testing.T, s *suite) {
	if !s.cfg.AllocFree {
		t.Skip("pooltest.Config.AllocFree is false")
	}
	d := newFakeDialer(t, 2)
	p := s.newPoolWith(t, d.dial, 2, poolimpl.Options{
		MinIdle:     1,
		IdleTimeout: module.Duration(time.Hour),
		MaxLifetime: module.Duration(time.Hour),
		CheckPeriod: module.Duration(time.Hour),
	})
	waitFor(t, p, "warm", func(st poolimpl.Stats) bool { return st.Idle == 1 })
	expectIdleAllocFree(t, p)
}
