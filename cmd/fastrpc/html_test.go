package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkChart checks what holds for every chart: finite coordinates, all
// within the viewBox, and the counts it claims.
func checkChart(t *testing.T, c *svgChart) {
	t.Helper()
	require.NotNil(t, c)
	assert.Positive(t, c.W)
	assert.Positive(t, c.H)
	in := func(what string, x, y float64) {
		t.Helper()
		for _, v := range []float64{x, y} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s %s: coordinate %v", c.ID, what, v)
			}
		}
		if x < 0 || x > c.W || y < 0 || y > c.H {
			t.Errorf("%s %s: (%v, %v) outside the viewBox 0 0 %v %v", c.ID, what, x, y, c.W, c.H)
		}
	}
	for _, l := range append(append([]svgLine(nil), c.Grid...), c.Axes...) {
		in("line "+l.Class, l.X1, l.Y1)
		in("line "+l.Class, l.X2, l.Y2)
	}
	bars := 0
	for _, r := range c.Rects {
		in("rect "+r.Class, r.X, r.Y)
		in("rect "+r.Class, r.X+r.W, r.Y+r.H)
		assert.GreaterOrEqual(t, r.W, 0.0)
		assert.GreaterOrEqual(t, r.H, 0.0)
		if strings.Fields(r.Class)[0] == "bar" {
			bars++
		}
	}
	assert.Equal(t, c.Bars, bars)
	points := 0
	for _, s := range c.Series {
		points += len(s.Points)
		for _, p := range s.Points {
			in("series "+s.Class, p.X, p.Y)
		}
	}
	assert.Equal(t, c.Points, points)
	for _, d := range c.Dots {
		in("dot", d.X, d.Y)
	}
	for _, tx := range c.Texts {
		in("text "+tx.Text, tx.X, tx.Y)
		assert.NotEmpty(t, tx.Text)
	}
	// The rendered SVG says the same: one element per item, no NaN.
	var b bytes.Buffer
	require.NoError(t, reportTemplate.ExecuteTemplate(&b, "chart", c))
	out := b.String()
	assert.Equal(t, len(c.Rects), strings.Count(out, "<rect "))
	assert.Equal(t, len(c.Series), strings.Count(out, "<polyline "))
	assert.Equal(t, len(c.Dots), strings.Count(out, "<circle "))
	assert.Equal(t, len(c.Grid)+len(c.Axes), strings.Count(out, "<line "))
	assert.Equal(t, len(c.Texts), strings.Count(out, "<text "))
	assert.NotContains(t, out, "NaN")
	assert.NotContains(t, out, "Inf")
}

func TestHistogramChart(t *testing.T) {
	h := new(hdr)
	for i := range 10000 {
		h.Record(int64(20_000 + (i%100)*(i%100)*300)) // 20µs to 3ms
	}
	rows := h.Rows(htmlHistogramBars)
	c := histogramChart(rows)
	checkChart(t, c)
	nonZero := 0
	for _, r := range rows {
		if r.Count > 0 {
			nonZero++
		}
	}
	assert.Equal(t, nonZero, c.Bars, "a bar per row that has calls")
	assert.Greater(t, c.Bars, 10)
	// Bars go left to right, without overlapping.
	for i := 1; i < len(c.Rects); i++ {
		assert.LessOrEqual(t, c.Rects[i-1].X+c.Rects[i-1].W, c.Rects[i].X+1e-9)
	}
	// The tallest bar is the row with the most calls, reaching the top.
	var labels []string
	for _, tx := range c.Texts {
		labels = append(labels, tx.Text)
	}
	assert.Contains(t, labels, "100µs")
	assert.Contains(t, labels, "1ms")
	assert.Contains(t, labels, "latency (log scale)")

	// Deterministic.
	assert.Equal(t, c, histogramChart(rows))

	// Edge cases: one value (one row, lo == hi), latencies at the ends of
	// the range, no rows.
	for _, rows := range [][]bucketCount{
		{{FromNs: 1500, ToNs: 1500, Count: 7}},
		{{FromNs: 0, ToNs: 0, Count: 1}},
		{{FromNs: 1, ToNs: 999, Count: 3}, {FromNs: 1000, ToNs: hdrMax, Count: 1}},
		{{FromNs: 5, ToNs: 9, Count: 0}, {FromNs: 10, ToNs: 20, Count: 0}},
	} {
		c := histogramChart(rows)
		checkChart(t, c)
	}
	c = histogramChart(nil)
	checkChart(t, c)
	assert.Zero(t, c.Bars)
}

func TestTimelineChart(t *testing.T) {
	var pts []timePoint
	for i := range 10 {
		pts = append(pts, timePoint{TNs: int64(i) * int64(time.Second), DurationNs: int64(time.Second),
			Calls: uint64(1000 + 50*i), Errors: uint64(i % 3), P50Ns: int64(100_000 + 1000*i), P99Ns: int64(900_000 + 5000*i)})
	}
	pts[4].Errors = pts[4].Calls // no call succeeded: breaks the lines
	c := timelineChart(pts)
	checkChart(t, c)
	assert.Equal(t, 10, c.Bars, "a calls/s bar per point")
	assert.Equal(t, 18, c.Points, "p50 and p99 at each point with a call that succeeded")
	assert.Len(t, c.Series, 4, "two lines, each broken in two")
	assert.Len(t, c.Dots, 18)
	assert.Equal(t, c, timelineChart(pts))

	// Long runs: lines without dots.
	long := make([]timePoint, maxTimelinePoints)
	for i := range long {
		long[i] = timePoint{TNs: int64(i) * int64(time.Second), DurationNs: int64(time.Second), Calls: 5, P50Ns: int64(i + 1), P99Ns: int64(2*i + 1)}
	}
	c = timelineChart(long)
	checkChart(t, c)
	assert.Equal(t, 2*maxTimelinePoints, c.Points)
	assert.Empty(t, c.Dots)

	// Edge cases: one short point, nothing succeeded, a window of zero
	// length, zeros.
	for _, pts := range [][]timePoint{
		{{TNs: 0, DurationNs: 3, Calls: 1, P50Ns: 2, P99Ns: 2}},
		{{TNs: 0, DurationNs: int64(time.Second), Calls: 8, Errors: 8}},
		{{TNs: 0, DurationNs: 0, Calls: 1, P50Ns: 5, P99Ns: 5}},
		{{}},
	} {
		c := timelineChart(pts)
		checkChart(t, c)
	}
	checkChart(t, timelineChart(nil))
}

func TestTickLabels(t *testing.T) {
	assert.Equal(t, "0", tickLabel(0))
	assert.Equal(t, "500ns", tickLabel(500))
	assert.Equal(t, "1µs", tickLabel(1000))
	assert.Equal(t, "2.5ms", tickLabel(2_500_000))
	assert.Equal(t, "20s", tickLabel(20e9))
	assert.Equal(t, []float64{10, 20, 50, 100}, logTicks(10, 100))
	assert.Equal(t, []float64{1000, 10000, 100000, 1e6, 1e7, 1e8}, logTicks(900, 1.1e8))
	assert.Equal(t, []float64{1200, 1300}, logTicks(1200, 1300))
	assert.Equal(t, "12.5k", countLabel(12500))
	assert.Equal(t, "0.5", countLabel(0.5))
}

// TestHTMLEscapes writes a page whose user data (address, method, error
// messages) is markup: it is shown as text, and the page refers to
// nothing outside itself.
func TestHTMLEscapes(t *testing.T) {
	rep := &benchReport{
		Addr: `evil"><script>alert(1)</script>`, Method: `<img src=x onerror=alert(2)>`,
		Settings: benchSettings{Concurrency: 1, Connections: 1, Calls: 2, TimeoutNs: int64(time.Second)},
		Calls:    2, OK: 1, Errors: 1, DurationNs: int64(time.Millisecond), RPS: 2000,
		Latency:      latencySummary{Min: 1000, P50: 1000, P75: 1000, P90: 1000, P95: 1000, P99: 1000, P999: 1000, Max: 1000, Mean: 1000},
		Histogram:    []bucketCount{{FromNs: 1000, ToNs: 1000, Count: 1}},
		ErrorsByKind: []errorKind{{Kind: "application_error", Code: 7, Count: 1, ExitCode: 1, FirstMessage: `fastrpc: <b onmouseover="x">&amp;</b>`}},
		Timeline:     []timePoint{{DurationNs: int64(time.Millisecond), Calls: 2, Errors: 1, P50Ns: 1000, P99Ns: 1000}},
		ExitCode:     1,
	}
	var b bytes.Buffer
	require.NoError(t, writeHTML(&b, rep))
	page := b.String()
	assert.NotContains(t, page, "<script>alert")
	assert.NotContains(t, page, "<img")
	assert.NotContains(t, page, "<b ")
	assert.Contains(t, page, "&lt;img src=x onerror=alert(2)&gt;")
	assert.Contains(t, page, "&lt;b onmouseover=&#34;x&#34;&gt;&amp;amp;&lt;/b&gt;")
	assert.Equal(t, 1, strings.Count(page, "<script>"), "only the page's own script")
	selfContained(t, page)
}

// selfContained checks that page loads nothing: no URL, no tag with a src
// or href.
func selfContained(t *testing.T, page string) {
	t.Helper()
	for _, s := range []string{"http:", "https:", "//cdn", "@import", "url("} {
		assert.NotContains(t, page, s)
	}
	assert.NotRegexp(t, `<[^>]*\s(src|href|srcset|action)=`, page)
	for _, tag := range []string{"<link", "<iframe", "<object", "<embed", "<img"} {
		assert.NotContains(t, page, tag)
	}
	assert.Contains(t, page, `Content-Security-Policy" content="default-src 'none'`)
}

func TestBenchHTML(t *testing.T) {
	forceTerminal(t, false)
	d := startDemo(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	r := fastrpc(t, "bench", d.addr, "echo", "--json", "-n", "300", "-c", "4", "-d", "hi", "--html", file)
	require.Equal(t, exitOK, r.code, r.stderr)
	rep := decodeReport(t, r.stdout) // the JSON report is still on stdout
	checkConsistent(t, rep)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	page := string(b)
	selfContained(t, page)
	assert.Contains(t, page, `<svg class="chart" id="histogram"`)
	assert.Contains(t, page, `<svg class="chart" id="timeline"`)
	assert.Contains(t, page, "<td class=\"text\">calls</td><td>300</td>")
	assert.Contains(t, page, html.EscapeString(d.addr+" echo: 4 callers on 4 connections, 300 calls"))
	assert.NotContains(t, page, "No call succeeded")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the temporary file was renamed")
	info, err := entries[0].Info()
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())

	// With the text report: both.
	r = fastrpc(t, "bench", d.addr, "echo", "-n", "50", "-c", "2", "--html", file)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "  calls     50 (50 ok, 0 errors)\n")
	b, err = os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(b), "<td class=\"text\">calls</td><td>50</td>", "replaced")

	// Every call failed: the page says so, without a histogram.
	r = fastrpc(t, "bench", d.addr, "slow", "-d", "5s", "--timeout", "30ms", "-n", "3", "-c", "3", "--warmup", "0", "--html", file)
	require.Equal(t, exitCall, r.code, r.stderr)
	b, err = os.ReadFile(file)
	require.NoError(t, err)
	page = string(b)
	assert.Contains(t, page, `id="no-success">No call succeeded: 3 calls, 3 errors.`)
	assert.NotContains(t, page, `id="histogram"`)
	assert.Contains(t, page, "<td class=\"text\">timeout</td><td>3</td><td>3</td>")
	assert.NotContains(t, page, "NaN")

	// A file it cannot write: refused before the run.
	r = fastrpc(t, "bench", d.addr, "echo", "--html", filepath.Join(dir, "no", "such", "dir", "r.html"))
	requireFailure(t, r, exitUsage, "bench: --html "+filepath.Join(dir, "no", "such", "dir", "r.html")+": cannot create a file in")
}

// findChromium is the headless browser for TestBenchHTMLBrowser: the
// test skips without one, unless FASTRPC_BROWSER_TEST=1 (CI) makes it
// required.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FASTRPC_BROWSER_TEST") == "1" {
		t.Fatal("FASTRPC_BROWSER_TEST=1 but no chromium on PATH (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH; set FASTRPC_BROWSER_TEST=1 to require it")
	return ""
}

// chromium runs the headless browser with args and its own profile
// directory, within a minute, and returns its stdout.
func chromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second // its helper processes may hold the pipes
	err := cmd.Run()
	require.NoError(t, err, "chromium %s: %s", strings.Join(args, " "), tail(stderr.String(), 2000))
	return stdout.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestBenchHTMLBrowser opens a real run's page in headless Chromium: the
// screenshot is not blank, and the charts are drawn (the page's script
// measures them and writes the result into the DOM the browser dumps).
func TestBenchHTMLBrowser(t *testing.T) {
	bin := findChromium(t)
	forceTerminal(t, false)
	was := timelineEvery
	timelineEvery = 100 * time.Millisecond // about ten points in the second
	t.Cleanup(func() { timelineEvery = was })
	d := startDemo(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	r := fastrpc(t, "bench", d.addr, "echo", "--json", "-z", "1s", "-c", "8", "--size", "1KiB", "--html", file)
	require.Equal(t, exitOK, r.code, r.stderr)
	rep := decodeReport(t, r.stdout)
	require.GreaterOrEqual(t, len(rep.Timeline), 5)
	u := "file://" + filepath.ToSlash(file)

	shot := filepath.Join(dir, "shot.png")
	chromium(t, bin, "--hide-scrollbars", "--window-size=1200,1000", "--screenshot="+shot, u)
	f, err := os.Open(shot)
	require.NoError(t, err)
	img, err := png.Decode(f)
	_ = f.Close()
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 1200, 1000), img.Bounds())
	colours, ink := inked(img)
	assert.Greater(t, colours, 16, "distinct colours: text, bars and lines")
	assert.Greater(t, ink, 0.03, "fraction of pixels that are not the white background")

	dom := chromium(t, bin, "--window-size=1200,1000", "--dump-dom", u)
	m := regexp.MustCompile(`<pre id="drawn" hidden="">([^<]*)</pre>`).FindStringSubmatch(dom)
	require.NotNil(t, m, "the page's script ran: %s", tail(dom, 3000))
	var drawn []struct {
		ID         string  `json:"id"`
		Width      float64 `json:"width"`
		Height     float64 `json:"height"`
		Bars       int     `json:"bars"`
		BarArea    float64 `json:"bar_area"`
		Points     int     `json:"points"`
		WantBars   int     `json:"want_bars"`
		WantPoints int     `json:"want_points"`
	}
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &drawn), m[1])
	require.Len(t, drawn, 2, m[1])
	t.Logf("drawn: %s; screenshot: %d colours, %.0f%% ink", html.UnescapeString(m[1]), colours, 100*ink)
	ok := 0
	for _, p := range rep.Timeline {
		if p.Calls > p.Errors {
			ok++
		}
	}
	for i, id := range []string{"histogram", "timeline"} {
		c := drawn[i]
		assert.Equal(t, id, c.ID)
		assert.Greater(t, c.Width, 500.0, "%s is laid out at the window's width", id)
		assert.Greater(t, c.Height, 150.0, id)
		assert.Positive(t, c.Bars, id)
		assert.Equal(t, c.WantBars, c.Bars, "%s: every bar made it into the DOM", id)
		assert.Greater(t, c.BarArea, 500.0, "%s: the bars cover pixels", id)
		assert.Equal(t, c.WantPoints, c.Points, "%s: every vertex was parsed", id)
	}
	assert.Equal(t, 2*ok, drawn[1].Points, "p50 and p99 at each point of the timeline")
	assert.Equal(t, len(rep.Timeline), drawn[1].Bars, "a calls/s bar per point")
}

// inked is the number of distinct colours of img and the fraction of its
// pixels that are not white.
func inked(img image.Image) (colours int, ink float64) {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	var n int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r>>8 < 0xf0 || g>>8 < 0xf0 || bl>>8 < 0xf0 {
				n++
			}
		}
	}
	return len(seen), float64(n) / float64(b.Dx()*b.Dy())
}
