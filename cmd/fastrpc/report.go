package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// The report of a bench run, as data: the text report and --json are
// writers of it, and so is --html (html.go; its timeline is what the
// latency over time plots).

// benchReport is a run's report; its JSON is bench --json's output.
type benchReport struct {
	Addr        string        `json:"addr"`
	Method      string        `json:"method"`
	Settings    benchSettings `json:"settings"`
	Interrupted bool          `json:"interrupted"` // SIGINT or SIGTERM stopped the run early
	Calls       uint64        `json:"calls"`       // calls that ended: ok + errors
	OK          uint64        `json:"ok"`
	Errors      uint64        `json:"errors"`
	DurationNs  int64         `json:"duration_ns"` // from the end of the warm-up to the last call's end
	RPS         float64       `json:"rps"`         // calls / duration
	// Latency and Histogram cover the calls that succeeded.
	Latency      latencySummary `json:"latency_ns"`
	Histogram    []bucketCount  `json:"histogram"`
	ErrorsByKind []errorKind    `json:"errors_by_kind"`
	Timeline     []timePoint    `json:"timeline"`
	ExitCode     int            `json:"exit_code"`
	// fine is the histogram in more rows, for --html's chart.
	fine []bucketCount
}

// benchSettings are the flags a run used.
type benchSettings struct {
	Concurrency  int     `json:"concurrency"`
	Connections  int     `json:"connections"`
	Calls        int64   `json:"calls"`       // -n; 0 with -z
	DurationNs   int64   `json:"duration_ns"` // -z; 0 with -n
	RPS          float64 `json:"rps"`         // --rps; 0 is no limit
	Warmup       int     `json:"warmup"`      // calls per caller
	TimeoutNs    int64   `json:"timeout_ns"`  // per call
	RequestBytes int     `json:"request_bytes"`
}

// latencySummary is the latency percentiles, in nanoseconds.
type latencySummary struct {
	Min  int64 `json:"min"`
	P50  int64 `json:"p50"`
	P75  int64 `json:"p75"`
	P90  int64 `json:"p90"`
	P95  int64 `json:"p95"`
	P99  int64 `json:"p99"`
	P999 int64 `json:"p99_9"`
	Max  int64 `json:"max"`
	Mean int64 `json:"mean"`
}

// timePoint is one window of the timeline: the calls that ended in it.
type timePoint struct {
	TNs        int64  `json:"t_ns"` // the window's start, from the run's
	DurationNs int64  `json:"duration_ns"`
	Calls      uint64 `json:"calls"`
	Errors     uint64 `json:"errors"`
	P50Ns      int64  `json:"p50_ns"` // of the calls that succeeded; 0 when none did
	P99Ns      int64  `json:"p99_ns"`
}

// maxTimelinePoints bounds the timeline: an hour of one-second points.
const maxTimelinePoints = 3600

// timeline is a run's points, at most maxTimelinePoints: when full, its
// points are merged in pairs and it takes one every twice as many ticks.
type timeline struct {
	Points []timePoint
	every  int // ticks per point
}

func (t *timeline) add(p timePoint) {
	if len(t.Points) == maxTimelinePoints {
		for i := range maxTimelinePoints / 2 {
			t.Points[i] = mergePoints(t.Points[2*i], t.Points[2*i+1])
		}
		t.Points = t.Points[:maxTimelinePoints/2]
		t.every *= 2
	}
	t.Points = append(t.Points, p)
}

// mergePoints joins two adjacent windows. Percentiles do not merge
// exactly: p50 becomes the mean of the two weighted by their successful
// calls, p99 the larger, an upper bound.
func mergePoints(a, b timePoint) timePoint {
	okA, okB := a.Calls-a.Errors, b.Calls-b.Errors
	m := timePoint{TNs: a.TNs, DurationNs: a.DurationNs + b.DurationNs, Calls: a.Calls + b.Calls, Errors: a.Errors + b.Errors, P99Ns: max(a.P99Ns, b.P99Ns)}
	if okA+okB > 0 {
		m.P50Ns = int64((float64(a.P50Ns)*float64(okA) + float64(b.P50Ns)*float64(okB)) / float64(okA+okB))
	}
	return m
}

// histogramRows is how many rows the histogram has at most.
const histogramRows = 16

// report assembles the report once the callers have stopped.
func (r *benchRun) report(tl *timeline, elapsed time.Duration, interrupted bool) *benchReport {
	b := r.opts
	h := new(hdr)
	r.merged(h)
	calls, errs := r.counts()
	rep := &benchReport{
		Addr: r.addr, Method: r.method,
		Settings: benchSettings{
			Concurrency: b.concurrency, Connections: b.connections.v, Calls: b.calls, DurationNs: int64(b.duration),
			RPS: b.rps, Warmup: b.warmup, TimeoutNs: int64(r.timeout), RequestBytes: len(r.req),
		},
		Interrupted: interrupted,
		Calls:       calls, OK: calls - errs, Errors: errs,
		DurationNs:   int64(elapsed),
		Histogram:    h.Rows(histogramRows),
		fine:         h.Rows(htmlHistogramBars),
		ErrorsByKind: r.tally.list(),
		Timeline:     tl.Points,
	}
	if elapsed > 0 {
		rep.RPS = float64(calls) / elapsed.Seconds()
	}
	q := make([]int64, 6)
	h.Quantiles([]float64{0.5, 0.75, 0.9, 0.95, 0.99, 0.999}, q)
	rep.Latency = latencySummary{Min: h.Min(), P50: q[0], P75: q[1], P90: q[2], P95: q[3], P99: q[4], P999: q[5], Max: h.Max(), Mean: int64(math.Round(h.Mean()))}
	if rep.Histogram == nil {
		rep.Histogram = []bucketCount{}
	}
	if rep.ErrorsByKind == nil {
		rep.ErrorsByKind = []errorKind{}
	}
	if rep.Timeline == nil {
		rep.Timeline = []timePoint{}
	}
	rep.ExitCode = exitOK
	for _, k := range rep.ErrorsByKind {
		if k.ExitCode == exitCall || rep.ExitCode == exitOK {
			rep.ExitCode = k.ExitCode
		}
	}
	if interrupted {
		rep.ExitCode = exitInterrupted
	}
	return rep
}

// errorSummary is the kinds of errors on one line: "12 timeout, 3
// application_error 400".
func (rep *benchReport) errorSummary() string {
	var parts []string
	for _, k := range rep.ErrorsByKind {
		parts = append(parts, fmt.Sprintf("%d %s", k.Count, k.label()))
	}
	return strings.Join(parts, ", ")
}

func (k errorKind) label() string {
	if k.Code != 0 {
		return fmt.Sprintf("%s %d", k.Kind, k.Code)
	}
	return k.Kind
}

// writeText writes the report for people.
func (rep *benchReport) writeText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, rep.headline())
	if rep.Interrupted {
		fmt.Fprintln(bw, "interrupted: the report covers the calls that ended before")
	}
	fmt.Fprintf(bw, "\n  calls     %d (%d ok, %d errors)\n", rep.Calls, rep.OK, rep.Errors)
	fmt.Fprintf(bw, "  duration  %s\n", fmtNs(rep.DurationNs))
	fmt.Fprintf(bw, "  calls/s   %.1f\n", rep.RPS)

	if rep.OK > 0 {
		l := rep.Latency
		fmt.Fprintf(bw, "\nlatency of the %d calls that succeeded:\n", rep.OK)
		for _, row := range []struct {
			name string
			v    int64
		}{{"min", l.Min}, {"p50", l.P50}, {"p75", l.P75}, {"p90", l.P90}, {"p95", l.P95}, {"p99", l.P99}, {"p99.9", l.P999}, {"max", l.Max}, {"mean", l.Mean}} {
			fmt.Fprintf(bw, "  %-6s %9s\n", row.name, fmtNs(row.v))
		}
		fmt.Fprintf(bw, "\nhistogram:\n")
		writeHistogram(bw, rep.Histogram)
	}
	if len(rep.ErrorsByKind) > 0 {
		fmt.Fprintf(bw, "\nerrors by kind:\n")
		width := 0
		for _, k := range rep.ErrorsByKind {
			width = max(width, len(k.label()))
		}
		for _, k := range rep.ErrorsByKind {
			fmt.Fprintf(bw, "  %-*s  %d  (exit %d) first: %s\n", width, k.label(), k.Count, k.ExitCode, k.FirstMessage)
		}
	}
	return bw.Flush()
}

// writeHistogram writes rows as "  from - to  count  bar".
func writeHistogram(w io.Writer, rows []bucketCount) {
	const barWidth = 40
	var most uint64
	from, to, counts := make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	wf, wt, wc := 0, 0, 0
	for i, r := range rows {
		most = max(most, r.Count)
		from[i], to[i], counts[i] = fmtNs(r.FromNs), fmtNs(r.ToNs), fmt.Sprint(r.Count)
		wf, wt, wc = max(wf, len([]rune(from[i]))), max(wt, len([]rune(to[i]))), max(wc, len(counts[i]))
	}
	for i, r := range rows {
		bar := 0
		if most > 0 {
			bar = int((r.Count*barWidth + most - 1) / most)
		}
		fmt.Fprintf(w, "  %s - %s  %*s  %s\n", padRunes(from[i], wf), padRunes(to[i], wt), wc, counts[i], strings.Repeat("#", bar))
	}
}

// padRunes right-aligns s to width runes (µ is two bytes).
func padRunes(s string, width int) string {
	return strings.Repeat(" ", max(0, width-len([]rune(s)))) + s
}

// fmtNs formats nanoseconds with three significant digits: 850ns, 12.3µs,
// 1.05ms, 2.50s; a minute and more as a time.Duration rounded to the
// tenth of a second.
func fmtNs(ns int64) string {
	v := float64(ns)
	switch {
	case ns < 1000:
		return fmt.Sprintf("%dns", ns)
	case ns < 1_000_000:
		return sig3(v/1e3) + "µs"
	case ns < 1_000_000_000:
		return sig3(v/1e6) + "ms"
	case ns < int64(time.Minute):
		return sig3(v/1e9) + "s"
	}
	return time.Duration(ns).Round(100 * time.Millisecond).String()
}

// sig3 formats v, in [1, 1000), with three significant digits.
func sig3(v float64) string {
	switch {
	case v < 9.995:
		return fmt.Sprintf("%.2f", v)
	case v < 99.95:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// plural is "1 caller", "2 callers".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// trimFloat formats a flag's number without needless decimals.
func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
}
