package main

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// bench --html: the report as one self-contained HTML page. Everything is
// inline (styles, the charts as static SVG, a small script that only
// measures the charts for the browser test): the page loads nothing, and
// its Content-Security-Policy forbids it to. The page is html/template's:
// the address, method and error messages, user data, are escaped.
//
// The charts are built as data (svgChart: rectangles, lines, polylines,
// labels, coordinates in the chart's viewBox) by histogramChart and
// timelineChart, deterministic functions of the report, which the template
// writes out.

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f":      svgNum,
	"points": svgPoints,
}).Parse(reportHTML))

// htmlHistogramBars is how many bars the page's histogram has at most:
// finer than the text's histogramRows, from the merged HDR histogram.
const htmlHistogramBars = 48

// maxTimelineDots is how many points of the timeline get a dot (with its
// tooltip) at most: longer runs get the lines alone.
const maxTimelineDots = 120

// writeHTML writes rep as the HTML page.
func writeHTML(w io.Writer, rep *benchReport) error {
	return reportTemplate.Execute(w, newHTMLPage(rep))
}

// htmlPage is what the template shows.
type htmlPage struct {
	Rep       *benchReport
	Headline  string
	Summary   []htmlField
	Latency   []htmlField
	Errors    []htmlError
	Histogram *svgChart // nil when no call succeeded
	Timeline  *svgChart // nil without points
}

type htmlField struct{ Name, Value string }

type htmlError struct {
	Label        string
	Count        uint64
	ExitCode     int
	FirstMessage string
}

func newHTMLPage(rep *benchReport) *htmlPage {
	p := &htmlPage{Rep: rep, Headline: rep.headline()}
	p.Summary = []htmlField{
		{"calls", strconv.FormatUint(rep.Calls, 10)},
		{"ok", strconv.FormatUint(rep.OK, 10)},
		{"errors", strconv.FormatUint(rep.Errors, 10)},
		{"duration", fmtNs(rep.DurationNs)},
		{"calls/s", fmt.Sprintf("%.1f", rep.RPS)},
		{"exit status", strconv.Itoa(rep.ExitCode)},
	}
	if rep.OK > 0 {
		l := rep.Latency
		for _, f := range []struct {
			name string
			v    int64
		}{{"min", l.Min}, {"p50", l.P50}, {"p75", l.P75}, {"p90", l.P90}, {"p95", l.P95}, {"p99", l.P99}, {"p99.9", l.P999}, {"max", l.Max}, {"mean", l.Mean}} {
			p.Latency = append(p.Latency, htmlField{f.name, fmtNs(f.v)})
		}
		rows := rep.fine
		if len(rows) == 0 {
			rows = rep.Histogram
		}
		p.Histogram = histogramChart(rows)
	}
	for _, k := range rep.ErrorsByKind {
		p.Errors = append(p.Errors, htmlError{Label: k.label(), Count: k.Count, ExitCode: k.ExitCode, FirstMessage: k.FirstMessage})
	}
	if len(rep.Timeline) > 0 {
		p.Timeline = timelineChart(rep.Timeline)
	}
	return p
}

// svgChart is one chart, as the template draws it: every coordinate is in
// [0, W] x [0, H], the viewBox.
type svgChart struct {
	ID, Title string
	W, H      float64
	Grid      []svgLine // behind everything
	Rects     []svgRect
	Series    []svgSeries
	Dots      []svgDot
	Axes      []svgLine
	Texts     []svgText
	Bars      int // Rects of class "bar"
	Points    int // vertices of the Series
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Class          string
}

type svgRect struct {
	X, Y, W, H   float64
	Class, Title string
}

type svgSeries struct {
	Class  string
	Points []svgPoint
}

type svgPoint struct{ X, Y float64 }

type svgDot struct {
	X, Y, R      float64
	Class, Title string
}

type svgText struct {
	X, Y                float64
	Anchor, Class, Text string
	Rotate              bool // vertical, reading upwards
}

// svgNum formats a coordinate: one decimal, never NaN or Inf (0 instead;
// the builders do not make them).
func svgNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func svgPoints(ps []svgPoint) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(svgNum(p.X))
		b.WriteByte(',')
		b.WriteString(svgNum(p.Y))
	}
	return b.String()
}

// scale maps [d0, d1] to [r0, r1], linearly or, with log, on log10 of
// the values (which must then be positive). Values outside the domain are
// clamped to the range's ends: nothing is drawn outside the plot.
type scale struct {
	d0, d1, r0, r1 float64
	log            bool
}

func (s scale) at(v float64) float64 {
	d0, d1 := s.d0, s.d1
	if s.log {
		v, d0, d1 = math.Log10(max(v, 1e-9)), math.Log10(d0), math.Log10(d1)
	}
	if !(d1 > d0) || math.IsNaN(v) {
		return s.r0
	}
	x := s.r0 + (v-d0)/(d1-d0)*(s.r1-s.r0)
	return min(max(x, min(s.r0, s.r1)), max(s.r0, s.r1))
}

// niceStep is a step of 1, 2 or 5 times a power of ten that cuts span
// in about n parts.
func niceStep(span float64, n int) float64 {
	if !(span > 0) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch norm := raw / mag; {
	case norm <= 1:
		return mag
	case norm <= 2:
		return 2 * mag
	case norm <= 5:
		return 5 * mag
	}
	return 10 * mag
}

// niceTop is the axis' top for values up to v: a multiple of its step,
// and the step.
func niceTop(v float64, n int) (top, step float64) {
	step = niceStep(v, n)
	top = math.Ceil(v/step) * step
	if top <= 0 {
		top = step
	}
	return top, step
}

// logTicks are the values m*10^k in [lo, hi], m 1, 2 or 5, or fewer or
// more multipliers so that there are about 3 to 10; lo and hi themselves
// when the range is narrower than that.
func logTicks(lo, hi float64) []float64 {
	var out []float64
	for _, ms := range [][]float64{{1, 2, 5}, {1}, {1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		out = out[:0]
		for k := math.Floor(math.Log10(lo)); math.Pow(10, k) <= hi; k++ {
			for _, m := range ms {
				if v := m * math.Pow(10, k); v >= lo && v <= hi {
					out = append(out, v)
				}
			}
		}
		if len(ms) == 3 && len(out) > 10 {
			continue // too many: decades only
		}
		if len(out) >= 3 || len(ms) == 9 {
			break
		}
	}
	if len(out) < 2 {
		return []float64{lo, hi}
	}
	return out
}

// tickLabel is an axis label for ns nanoseconds: fmtNs without needless
// zeros, such as 0, 1µs, 2.5ms.
func tickLabel(ns float64) string {
	if ns < 0.5 {
		return "0"
	}
	s := fmtNs(int64(math.Round(ns)))
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 || !strings.Contains(s[:i], ".") {
		return s
	}
	return strings.TrimRight(strings.TrimRight(s[:i], "0"), ".") + s[i:]
}

// countLabel is an axis label for a count or a rate.
func countLabel(v float64) string {
	switch {
	case v >= 1e6:
		return trimFloat(v/1e6) + "M"
	case v >= 1e4:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(math.Round(v*100) / 100)
}

// Layout of the charts, in viewBox units (pixels at full width).
const (
	chartW      = 960.0
	chartLeft   = 72.0
	chartRight  = 72.0
	chartTop    = 30.0
	chartBottom = 46.0
)

// histogramChart draws rows (from Rows: adjacent, log-spaced) as bars on
// a log latency axis.
func histogramChart(rows []bucketCount) *svgChart {
	c := &svgChart{ID: "histogram", Title: "latency histogram", W: chartW, H: 300}
	px0, px1, py0, py1 := chartLeft, c.W-24, c.H-chartBottom, chartTop // plot area; y grows down
	if len(rows) == 0 {
		return c
	}
	lo := float64(max(rows[0].FromNs, 1))
	hi := float64(max(rows[len(rows)-1].ToNs+1, 2))
	if hi < lo*1.02 { // one narrow bucket: give it room
		lo, hi = lo/1.25, hi*1.25
	}
	xs := scale{d0: lo, d1: hi, r0: px0, r1: px1, log: true}
	var most uint64
	for _, r := range rows {
		most = max(most, r.Count)
	}
	top, step := niceTop(float64(most), 4)
	ys := scale{d0: 0, d1: top, r0: py0, r1: py1}
	for v := 0.0; v <= top+step/2; v += step {
		y := ys.at(v)
		c.Grid = append(c.Grid, svgLine{X1: px0, Y1: y, X2: px1, Y2: y, Class: "grid"})
		c.Texts = append(c.Texts, svgText{X: px0 - 6, Y: y + 4, Anchor: "end", Class: "tick", Text: countLabel(v)})
	}
	for _, r := range rows {
		if r.Count == 0 {
			continue
		}
		x0, x1 := xs.at(float64(max(r.FromNs, 1))), xs.at(float64(r.ToNs+1))
		if x1-x0 > 3 {
			x1-- // a gap between bars
		}
		if x1-x0 < 2 {
			x0, x1 = max(px0, x1-2), max(px0, x1-2)+2
		}
		y := min(ys.at(float64(r.Count)), py0-1) // at least a pixel high
		c.Rects = append(c.Rects, svgRect{X: x0, Y: y, W: x1 - x0, H: py0 - y, Class: "bar",
			Title: fmt.Sprintf("%s - %s: %d calls", fmtNs(r.FromNs), fmtNs(r.ToNs), r.Count)})
		c.Bars++
	}
	for _, v := range logTicks(lo, hi) {
		x := xs.at(v)
		c.Axes = append(c.Axes, svgLine{X1: x, Y1: py0, X2: x, Y2: py0 + 5, Class: "axis"})
		c.Texts = append(c.Texts, svgText{X: x, Y: py0 + 18, Anchor: "middle", Class: "tick", Text: tickLabel(v)})
	}
	c.Axes = append(c.Axes, svgLine{X1: px0, Y1: py0, X2: px1, Y2: py0, Class: "axis"}, svgLine{X1: px0, Y1: py0, X2: px0, Y2: py1, Class: "axis"})
	c.Texts = append(c.Texts,
		svgText{X: (px0 + px1) / 2, Y: c.H - 8, Anchor: "middle", Class: "label", Text: "latency (log scale)"},
		svgText{X: 16, Y: (py0 + py1) / 2, Anchor: "middle", Class: "label", Text: "calls", Rotate: true})
	return c
}

// timelineChart draws the timeline: calls/s (and errors/s) as bars on the
// right axis, the p50 and p99 of each window as lines on the left one.
// Windows where no call succeeded break the lines.
func timelineChart(points []timePoint) *svgChart {
	c := &svgChart{ID: "timeline", Title: "latency and calls/s over time", W: chartW, H: 320}
	px0, px1, py0, py1 := chartLeft, c.W-chartRight, c.H-chartBottom, chartTop
	if len(points) == 0 {
		return c
	}
	last := points[len(points)-1]
	total := float64(max(last.TNs+last.DurationNs, 1))
	xs := scale{d0: 0, d1: total, r0: px0, r1: px1}
	rate := func(p timePoint, n uint64) float64 {
		if p.DurationNs <= 0 {
			return 0
		}
		return float64(n) / (float64(p.DurationNs) / 1e9)
	}
	var maxRate, maxLat float64
	for _, p := range points {
		maxRate = max(maxRate, rate(p, p.Calls))
		if p.Calls > p.Errors {
			maxLat = max(maxLat, float64(p.P99Ns))
		}
	}
	rTop, rStep := niceTop(maxRate, 4)
	rs := scale{d0: 0, d1: rTop, r0: py0, r1: py1}
	for v := 0.0; v <= rTop+rStep/2; v += rStep {
		c.Texts = append(c.Texts, svgText{X: px1 + 6, Y: rs.at(v) + 4, Anchor: "start", Class: "tick rate-label", Text: countLabel(v)})
	}
	if maxLat > 0 {
		lTop, lStep := niceTop(maxLat, 4)
		ls := scale{d0: 0, d1: lTop, r0: py0, r1: py1}
		for v := 0.0; v <= lTop+lStep/2; v += lStep {
			y := ls.at(v)
			c.Grid = append(c.Grid, svgLine{X1: px0, Y1: y, X2: px1, Y2: y, Class: "grid"})
			c.Texts = append(c.Texts, svgText{X: px0 - 6, Y: y + 4, Anchor: "end", Class: "tick", Text: tickLabel(v)})
		}
		for _, q := range []struct {
			class string
			at    func(timePoint) int64
		}{{"p50", func(p timePoint) int64 { return p.P50Ns }}, {"p99", func(p timePoint) int64 { return p.P99Ns }}} {
			var cur []svgPoint
			flush := func() {
				if len(cur) > 0 {
					c.Series = append(c.Series, svgSeries{Class: "series " + q.class, Points: cur})
					c.Points += len(cur)
				}
				cur = nil
			}
			for _, p := range points {
				if p.Calls <= p.Errors {
					flush()
					continue
				}
				pt := svgPoint{X: xs.at(float64(p.TNs) + float64(p.DurationNs)/2), Y: ls.at(float64(q.at(p)))}
				cur = append(cur, pt)
				if len(points) <= maxTimelineDots {
					c.Dots = append(c.Dots, svgDot{X: pt.X, Y: pt.Y, R: 3, Class: "pt " + q.class,
						Title: fmt.Sprintf("%s at %s: %s", q.class, tickLabel(float64(p.TNs)), fmtNs(q.at(p)))})
				}
			}
			flush()
		}
	} else {
		c.Texts = append(c.Texts, svgText{X: (px0 + px1) / 2, Y: (py0 + py1) / 2, Anchor: "middle", Class: "label", Text: "no call succeeded: no latency to draw"})
	}
	for _, p := range points {
		x0, x1 := xs.at(float64(p.TNs)), xs.at(float64(p.TNs+p.DurationNs))
		if x1-x0 > 3 {
			x0, x1 = x0+0.5, x1-0.5
		}
		if r := rate(p, p.Calls); r > 0 {
			y := rs.at(r)
			c.Rects = append(c.Rects, svgRect{X: x0, Y: y, W: max(x1-x0, 0), H: py0 - y, Class: "bar rate",
				Title: fmt.Sprintf("%s - %s: %d calls, %.1f/s", tickLabel(float64(p.TNs)), tickLabel(float64(p.TNs+p.DurationNs)), p.Calls, r)})
			c.Bars++
		}
		if r := rate(p, p.Errors); r > 0 {
			y := rs.at(r)
			c.Rects = append(c.Rects, svgRect{X: x0, Y: y, W: max(x1-x0, 0), H: py0 - y, Class: "errbar",
				Title: fmt.Sprintf("%d errors", p.Errors)})
		}
	}
	_, tStep := niceTop(total, 6)
	for v := 0.0; v <= total+tStep/1e6; v += tStep {
		x := xs.at(v)
		c.Axes = append(c.Axes, svgLine{X1: x, Y1: py0, X2: x, Y2: py0 + 5, Class: "axis"})
		c.Texts = append(c.Texts, svgText{X: x, Y: py0 + 18, Anchor: "middle", Class: "tick", Text: tickLabel(v)})
	}
	c.Axes = append(c.Axes, svgLine{X1: px0, Y1: py0, X2: px1, Y2: py0, Class: "axis"},
		svgLine{X1: px0, Y1: py0, X2: px0, Y2: py1, Class: "axis"}, svgLine{X1: px1, Y1: py0, X2: px1, Y2: py1, Class: "axis"})
	c.Texts = append(c.Texts,
		svgText{X: (px0 + px1) / 2, Y: c.H - 8, Anchor: "middle", Class: "label", Text: "time since the start"},
		svgText{X: 16, Y: (py0 + py1) / 2, Anchor: "middle", Class: "label", Text: "latency", Rotate: true},
		svgText{X: c.W - 10, Y: (py0 + py1) / 2, Anchor: "middle", Class: "label", Text: "calls/s", Rotate: true},
		svgText{X: px0, Y: 18, Anchor: "start", Class: "legend p50", Text: "— p50"},
		svgText{X: px0 + 70, Y: 18, Anchor: "start", Class: "legend p99", Text: "— p99"},
		svgText{X: px0 + 140, Y: 18, Anchor: "start", Class: "legend rate-label", Text: "■ calls/s"},
		svgText{X: px0 + 230, Y: 18, Anchor: "start", Class: "legend err", Text: "■ errors/s"})
	return c
}

// headline is the report's first line: what was run, and how.
func (rep *benchReport) headline() string {
	s := rep.Settings
	what := fmt.Sprintf("%d calls", s.Calls)
	if s.DurationNs > 0 {
		what = "for " + time.Duration(s.DurationNs).String()
	}
	if s.RPS > 0 {
		what += fmt.Sprintf(" at most %s/s", trimFloat(s.RPS))
	}
	return fmt.Sprintf("%s %s: %s on %s, %s, %d-byte requests, %s per caller, %v timeout per call",
		rep.Addr, rep.Method, plural(s.Concurrency, "caller"), plural(s.Connections, "connection"), what, s.RequestBytes,
		plural(s.Warmup, "warm-up call"), time.Duration(s.TimeoutNs))
}
