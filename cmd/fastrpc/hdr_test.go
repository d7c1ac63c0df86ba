package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testQuantiles = []float64{0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1}

// reference is the value at quantile q of sorted, by the definition
// Quantiles uses: the smallest value with at least q of them at or below.
func reference(sorted []int64, q float64) int64 {
	r := int(rank(q, uint64(len(sorted))))
	return sorted[r-1]
}

func TestHDRLayout(t *testing.T) {
	// Every value maps to a counter whose range holds it, and the
	// counters tile [0, hdrMax] in order.
	assert.Equal(t, hdrBuckets, hdrIndex(hdrMax)>>hdrHalfBits, "hdrMax is in the last bucket")
	assert.Less(t, hdrIndex(hdrMax), hdrCounts)
	var next int64
	for i := 0; i <= hdrIndex(hdrMax); i++ {
		lo, hi := hdrRange(i)
		require.Equal(t, next, lo, "counter %d", i)
		require.Equal(t, i, hdrIndex(lo))
		require.Equal(t, i, hdrIndex(hi))
		if lo >= 1000 {
			// Three significant digits from 1µs up: a counter is at most
			// 1/1000 of its values wide.
			require.LessOrEqual(t, float64(hi-lo+1)/float64(lo), 1.0/1000, "counter %d [%d, %d]", i, lo, hi)
		}
		next = hi + 1
	}
	assert.Greater(t, next, hdrMax)
}

func TestHDRAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func() int64
	}{
		{"uniform 1µs-1h", func() int64 { return 1000 + rng.Int64N(hdrMax-1000) }},
		{"log-uniform 1µs-1h", func() int64 {
			return int64(math.Exp(math.Log(1000) + rng.Float64()*(math.Log(float64(hdrMax))-math.Log(1000))))
		}},
		{"latency-like", func() int64 { return int64(50_000 + rng.ExpFloat64()*200_000) }},
		{"few values", func() int64 { return []int64{1500, 1_000_000, 7_777_777}[rng.IntN(3)] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := new(hdr)
			values := make([]int64, 20000)
			var sum float64
			for i := range values {
				values[i] = tc.gen()
				h.Record(values[i])
				sum += float64(values[i])
			}
			slices.Sort(values)
			got := make([]int64, len(testQuantiles))
			h.Quantiles(testQuantiles, got)
			for i, q := range testQuantiles {
				want := reference(values, q)
				assert.InEpsilon(t, want, got[i], 0.001, "q=%v: want %d, got %d", q, want, got[i])
			}
			assert.Equal(t, values[0], h.Min())
			assert.Equal(t, values[len(values)-1], h.Max())
			assert.InEpsilon(t, sum/float64(len(values)), h.Mean(), 1e-9)
			assert.Equal(t, uint64(len(values)), h.Count())
			assert.True(t, slices.IsSorted(got), "non-decreasing: %v", got)
		})
	}
}

func TestHDRClampsAndEmpty(t *testing.T) {
	h := new(hdr)
	out := make([]int64, 3)
	h.Quantiles([]float64{0, 0.5, 1}, out)
	assert.Equal(t, []int64{0, 0, 0}, out)
	assert.Zero(t, h.Min())
	assert.Zero(t, h.Max())
	assert.Zero(t, h.Mean())
	assert.Nil(t, h.Rows(16))

	h.Record(-5)
	h.Record(int64(2 * time.Hour))
	assert.Equal(t, int64(0), h.Min())
	assert.Equal(t, hdrMax, h.Max())
	h.Quantiles([]float64{0, 0.5, 1}, out)
	assert.Equal(t, int64(0), out[0])
	assert.Equal(t, hdrMax, out[2])

	// One value: every quantile is it, exactly.
	h.Reset()
	h.Record(123_456)
	h.Quantiles([]float64{0, 0.5, 1}, out)
	assert.Equal(t, []int64{123_456, 123_456, 123_456}, out)
	assert.Equal(t, []bucketCount{{123_456, 123_456, 1}}, h.Rows(16))
}

func TestHDRMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b, all := new(hdr), new(hdr), new(hdr)
	for i := range 10000 {
		v := int64(rng.ExpFloat64() * 1e6)
		if i%3 == 0 {
			v *= 50 // b's values are spread wider
			b.Record(v)
		} else {
			a.Record(v)
		}
		all.Record(v)
	}
	merged := new(hdr)
	merged.Merge(a)
	merged.Merge(b)
	merged.Merge(new(hdr)) // an empty one changes nothing
	for i := range merged.counts {
		require.Equal(t, all.counts[i].Load(), merged.counts[i].Load(), "counter %d", i)
	}
	assert.Equal(t, all.Count(), merged.Count())
	assert.Equal(t, all.Min(), merged.Min())
	assert.Equal(t, all.Max(), merged.Max())
	assert.Equal(t, all.Mean(), merged.Mean())
	want, got := make([]int64, len(testQuantiles)), make([]int64, len(testQuantiles))
	all.Quantiles(testQuantiles, want)
	merged.Quantiles(testQuantiles, got)
	assert.Equal(t, want, got)

	// CopyFrom and QuantilesSince: the values of a window.
	before := new(hdr)
	before.CopyFrom(a)
	window := new(hdr)
	for range 1000 {
		v := 5_000_000 + rng.Int64N(1000)
		a.Record(v)
		window.Record(v)
	}
	got2, want2 := make([]int64, 3), make([]int64, 3)
	a.QuantilesSince(before, []float64{0.5, 0.99, 1}, got2)
	window.Quantiles([]float64{0.5, 0.99, 1}, want2)
	for i := range got2 {
		assert.InEpsilon(t, want2[i], got2[i], 0.001)
	}
}

func TestHDRRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	h := new(hdr)
	for range 5000 {
		h.Record(int64(20_000 + rng.ExpFloat64()*300_000))
	}
	rows := h.Rows(16)
	require.NotEmpty(t, rows)
	assert.LessOrEqual(t, len(rows), 16)
	assert.GreaterOrEqual(t, len(rows), 10)
	var sum uint64
	for i, r := range rows {
		sum += r.Count
		assert.LessOrEqual(t, r.FromNs, r.ToNs)
		if i > 0 {
			assert.Equal(t, rows[i-1].ToNs+1, r.FromNs)
		}
	}
	assert.Equal(t, h.Count(), sum)
	assert.Equal(t, h.Min(), rows[0].FromNs)
	assert.Equal(t, h.Max(), rows[len(rows)-1].ToNs)
}

func TestHDRRecordAllocatesNothing(t *testing.T) {
	h := new(hdr)
	v := int64(1)
	allocs := testing.AllocsPerRun(1000, func() {
		h.Record(v)
		v = v*7 + 12345
		if v > hdrMax {
			v %= hdrMax
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkHDRRecord(b *testing.B) {
	h := new(hdr)
	for i := 0; b.Loop(); i++ {
		h.Record(int64(i) * 997)
	}
}
