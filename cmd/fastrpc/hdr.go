package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// An HDR histogram of latencies in nanoseconds: log-linear buckets with
// three significant digits, from 1ns up to hdrMax (an hour), in fixed
// memory (hdrCounts counters, about 264 KiB) whatever the number of values.
//
// The layout is HdrHistogram's with a unit of 1ns and 2048 sub-buckets:
// values below 2048ns have a counter each; above, every power of two
// [2^k, 2^(k+1)) is split into 1024 counters of equal width 2^(k-10), so a
// counter's width is at most 1/1024 of the values it holds and its
// midpoint, which the percentiles report, is within 1/2048 (0.05%) of every
// one of them.
//
// Record, Merge and the readers use atomic operations only: callers
// sharing a histogram record without locks, and the progress line and the
// timeline read it while they do.
const (
	hdrSubBits   = 11 // log2 of the sub-bucket count: 2048, three significant digits
	hdrHalfBits  = hdrSubBits - 1
	hdrHalfCount = 1 << hdrHalfBits
	hdrMax       = int64(time.Hour)
	// hdrBuckets is the number of power-of-two buckets: hdrMax, below
	// 2^42, is in the last one, bits.Len64(hdrMax) - hdrSubBits = 31.
	hdrBuckets = 32
	hdrCounts  = (hdrBuckets + 1) << hdrHalfBits
)

// hdr is a histogram; its zero value is empty and ready. It is big: make
// it with new, never copy it.
type hdr struct {
	counts [hdrCounts]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // nanoseconds; overflows after 584 years of latency
	max    atomic.Int64
	minInv atomic.Int64 // hdrMax - the smallest value: both extremes grow with atomicMax
}

// hdrIndex is the counter of v, which is in [0, hdrMax].
func hdrIndex(v int64) int {
	u := uint64(v)
	bucket := bits.Len64(u|(1<<hdrSubBits-1)) - hdrSubBits // 0 for v < 2048
	sub := int(u >> uint(bucket))                          // in [1024, 2048), or [0, 2048) in bucket 0
	return (bucket+1)<<hdrHalfBits + sub - hdrHalfCount
}

// hdrRange is the range [lo, hi] of the values counter i holds.
func hdrRange(i int) (lo, hi int64) {
	bucket := i>>hdrHalfBits - 1
	sub := int64(i&(hdrHalfCount-1)) + hdrHalfCount
	if bucket < 0 {
		bucket, sub = 0, sub-hdrHalfCount
	}
	lo = sub << uint(bucket)
	return lo, lo + 1<<uint(bucket) - 1
}

// hdrMid is the value counter i reports: the middle of its range.
func hdrMid(i int) int64 {
	lo, hi := hdrRange(i)
	return lo + (hi-lo)/2
}

// clampLatency brings v into the histogram's range [0, hdrMax].
func clampLatency(v int64) int64 {
	return min(max(v, 0), hdrMax)
}

// Record counts one value, in nanoseconds; values outside [0, hdrMax] are
// counted as the nearest end. It allocates nothing.
func (h *hdr) Record(v int64) {
	v = clampLatency(v)
	h.counts[hdrIndex(v)].Add(1)
	h.sum.Add(uint64(v))
	atomicMax(&h.max, v)
	atomicMax(&h.minInv, hdrMax-v)
	h.total.Add(1)
}

// atomicMax raises a to v if it is below.
func atomicMax(a *atomic.Int64, v int64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is the number of values recorded.
func (h *hdr) Count() uint64 { return h.total.Load() }

// Min and Max are the smallest and largest values recorded, exactly; 0
// when empty.
func (h *hdr) Min() int64 {
	if h.Count() == 0 {
		return 0
	}
	return hdrMax - h.minInv.Load()
}

func (h *hdr) Max() int64 { return h.max.Load() }

// Mean is the mean of the values recorded, 0 when empty.
func (h *hdr) Mean() float64 {
	n := h.Count()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Merge adds o's values to h.
func (h *hdr) Merge(o *hdr) {
	if o.Count() == 0 {
		return
	}
	for i := range h.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.sum.Add(o.sum.Load())
	atomicMax(&h.max, o.max.Load())
	atomicMax(&h.minInv, o.minInv.Load())
	h.total.Add(o.Count())
}

// Reset empties h. It must not run while others record.
func (h *hdr) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.total.Store(0)
	h.sum.Store(0)
	h.max.Store(0)
	h.minInv.Store(0)
}

// CopyFrom makes h a copy of o (a snapshot, when others record into o).
func (h *hdr) CopyFrom(o *hdr) {
	h.Reset()
	h.Merge(o)
}

// Quantiles returns the values at each of qs (fractions in [0, 1],
// ascending), each the value of the smallest recorded value v such that at
// least q of the values are <= v, within the histogram's precision and
// clamped to [Min, Max]. It is one pass over the counters. An empty
// histogram gives zeros.
func (h *hdr) Quantiles(qs []float64, out []int64) {
	h.quantiles(qs, out, nil)
}

// QuantilesSince is Quantiles of the values recorded in h but not in
// before, a snapshot of h taken earlier: the values of a time window.
func (h *hdr) QuantilesSince(before *hdr, qs []float64, out []int64) {
	h.quantiles(qs, out, before)
}

func (h *hdr) quantiles(qs []float64, out []int64, before *hdr) {
	total := h.Count()
	lo, hi := h.Min(), h.Max()
	if before != nil {
		total -= before.Count()
		lo = 0 // the window's own extremes are not tracked
	}
	for i := range out {
		out[i] = 0
	}
	if total == 0 {
		return
	}
	j := 0
	var seen uint64
	for i := range h.counts {
		c := h.counts[i].Load()
		if before != nil {
			c -= before.counts[i].Load()
		}
		if c == 0 {
			continue
		}
		seen += c
		for j < len(qs) && float64(seen) >= rank(qs[j], total) {
			out[j] = min(max(hdrMid(i), lo), hi)
			j++
		}
		if j == len(qs) {
			return
		}
	}
	for ; j < len(qs); j++ {
		out[j] = hi
	}
}

// rank is the 1-based rank of quantile q among total values: the value at
// q is the rank-th smallest.
func rank(q float64, total uint64) float64 {
	r := math.Ceil(q * float64(total))
	return max(r, 1)
}

// bucketCount is one row of a histogram's listing: Count values in [From,
// To].
type bucketCount struct {
	FromNs int64  `json:"from_ns"`
	ToNs   int64  `json:"to_ns"`
	Count  uint64 `json:"count"`
}

// Rows lists h in at most rows rows of equal width on a log scale, from Min
// to Max: the text and JSON histogram. The counts sum to Count.
func (h *hdr) Rows(rows int) []bucketCount {
	n := h.Count()
	if n == 0 {
		return nil
	}
	lo, hi := h.Min(), h.Max()
	if hi <= lo || rows < 2 {
		return []bucketCount{{FromNs: lo, ToNs: hi, Count: n}}
	}
	// Edges lo*r^k, rounded to three significant digits, without
	// duplicates.
	ratio := math.Pow(float64(hi)/float64(max(lo, 1)), 1/float64(rows))
	edges := []int64{lo}
	for k := 1; k < rows; k++ {
		e := round3(float64(max(lo, 1)) * math.Pow(ratio, float64(k)))
		if e > edges[len(edges)-1] && e < hi {
			edges = append(edges, e)
		}
	}
	out := make([]bucketCount, len(edges))
	for k, e := range edges {
		out[k].FromNs = e
		if k+1 < len(edges) {
			out[k].ToNs = edges[k+1] - 1
		} else {
			out[k].ToNs = hi
		}
	}
	k := 0
	for i := range h.counts {
		c := h.counts[i].Load()
		if c == 0 {
			continue
		}
		v := min(max(hdrMid(i), lo), hi)
		for k+1 < len(out) && v >= out[k+1].FromNs {
			k++
		}
		out[k].Count += c
	}
	return out
}

// round3 rounds x to three significant digits.
func round3(x float64) int64 {
	if x < 1000 {
		return int64(math.Round(x))
	}
	p := math.Pow(10, math.Floor(math.Log10(x))-2)
	return int64(math.Round(x/p) * p)
}
