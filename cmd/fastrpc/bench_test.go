package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/typed"
)

// decodeReport parses bench --json's output.
func decodeReport(t *testing.T, s string) benchReport {
	t.Helper()
	var rep benchReport
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&rep), "stdout: %s", s)
	return rep
}

// forceTerminal makes bench see stderr as a terminal, or not, for the
// test, with a fast progress line.
func forceTerminal(t *testing.T, on bool) {
	t.Helper()
	was, every := isTerminal, progressEvery
	isTerminal = func(io.Writer) bool { return on }
	progressEvery = 20 * time.Millisecond
	t.Cleanup(func() { isTerminal, progressEvery = was, every })
}

// checkConsistent checks what holds for every report.
func checkConsistent(t *testing.T, rep benchReport) {
	t.Helper()
	assert.Equal(t, rep.Calls, rep.OK+rep.Errors)
	l := rep.Latency
	p := []int64{l.Min, l.P50, l.P75, l.P90, l.P95, l.P99, l.P999, l.Max}
	assert.True(t, slices.IsSorted(p), "percentiles non-decreasing: %v", p)
	if rep.OK > 0 {
		assert.Positive(t, l.Min)
		assert.GreaterOrEqual(t, l.Mean, l.Min)
		assert.LessOrEqual(t, l.Mean, l.Max)
	}
	var sum uint64
	for i, b := range rep.Histogram {
		sum += b.Count
		if i > 0 {
			assert.Equal(t, rep.Histogram[i-1].ToNs+1, b.FromNs)
		}
	}
	assert.Equal(t, rep.OK, sum, "the histogram counts the calls that succeeded")
	assert.LessOrEqual(t, len(rep.Histogram), histogramRows)
	var kinds uint64
	for _, k := range rep.ErrorsByKind {
		kinds += k.Count
		assert.True(t, strings.HasPrefix(k.FirstMessage, "fastrpc: "), k.FirstMessage)
	}
	assert.Equal(t, rep.Errors, kinds)
	var calls, errs uint64
	for _, pt := range rep.Timeline {
		calls += pt.Calls
		errs += pt.Errors
		assert.LessOrEqual(t, pt.P50Ns, pt.P99Ns)
	}
	assert.Equal(t, rep.Calls, calls, "the timeline covers every call")
	assert.Equal(t, rep.Errors, errs)
}

func TestBenchJSON(t *testing.T) {
	forceTerminal(t, false)
	d := startDemo(t)
	r := fastrpc(t, "bench", d.addr, "echo", "--json", "-n", "500", "-c", "8", "-d", "hello")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr, "no progress line when stderr is not a terminal")
	rep := decodeReport(t, r.stdout)
	assert.Equal(t, uint64(500), rep.Calls)
	assert.Equal(t, uint64(500), rep.OK)
	assert.Zero(t, rep.Errors)
	assert.False(t, rep.Interrupted)
	assert.Equal(t, exitOK, rep.ExitCode)
	assert.Equal(t, benchSettings{Concurrency: 8, Connections: 8, Calls: 500, Warmup: 2, TimeoutNs: int64(10 * time.Second), RequestBytes: 5}, rep.Settings)
	assert.Equal(t, d.addr, rep.Addr)
	assert.Equal(t, "echo", rep.Method)
	assert.Positive(t, rep.DurationNs)
	assert.InEpsilon(t, float64(rep.Calls)/time.Duration(rep.DurationNs).Seconds(), rep.RPS, 1e-6)
	assert.NotEmpty(t, rep.Histogram)
	assert.Empty(t, rep.ErrorsByKind)
	checkConsistent(t, rep)

	// A codec method: the JSON is encoded once with its codec (msgpack),
	// which the master decodes without complaint on every call.
	r = fastrpc(t, "bench", d.addr, "add", "--json", "-n", "50", "-c", "2", "--connections", "1", "-d", `{"a": 1, "b": 2}`)
	require.Equal(t, exitOK, r.code, r.stderr)
	rep = decodeReport(t, r.stdout)
	assert.Equal(t, uint64(50), rep.OK)
	assert.Equal(t, 1, rep.Settings.Connections)
	checkConsistent(t, rep)
}

func TestBenchText(t *testing.T) {
	forceTerminal(t, false)
	d := startDemo(t)
	r := fastrpc(t, "bench", d.addr, "sha256", "-n", "200", "-c", "4", "--size", "4KiB", "--warmup", "0")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	out := r.stdout
	assert.True(t, strings.HasPrefix(out, d.addr+" sha256: 4 callers on 4 connections, 200 calls, 4096-byte requests, 0 warm-up calls per caller, 10s timeout per call\n"), out)
	assert.Contains(t, out, "  calls     200 (200 ok, 0 errors)\n")
	assert.Regexp(t, `(?m)^  calls/s   [0-9.]+$`, out)
	for _, p := range []string{"min", "p50", "p75", "p90", "p95", "p99", "p99.9", "max", "mean"} {
		assert.Regexp(t, `(?m)^  `+regexp.QuoteMeta(p)+` +[0-9.]+(ns|µs|ms|s)$`, out, p)
	}
	rows := regexp.MustCompile(`(?m)^ +[0-9.]+(ns|µs|ms|s) - +[0-9.]+(ns|µs|ms|s) +([0-9]+)  #*$`).FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, rows, out)
	assert.LessOrEqual(t, len(rows), histogramRows)
	total := 0
	for _, row := range rows {
		n, err := strconv.Atoi(row[3])
		require.NoError(t, err)
		total += n
	}
	assert.Equal(t, 200, total)
	assert.NotContains(t, out, "errors by kind")
}

func TestBenchDuration(t *testing.T) {
	forceTerminal(t, false)
	d := startDemo(t)
	start := time.Now()
	r := fastrpc(t, "bench", d.addr, "echo", "--json", "-z", "1s", "-c", "2")
	took := time.Since(start)
	require.Equal(t, exitOK, r.code, r.stderr)
	rep := decodeReport(t, r.stdout)
	assert.GreaterOrEqual(t, rep.DurationNs, int64(900*time.Millisecond))
	assert.Less(t, took, 5*time.Second)
	assert.Positive(t, rep.Calls)
	assert.Equal(t, int64(time.Second), rep.Settings.DurationNs)
	assert.Zero(t, rep.Settings.Calls)
	require.NotEmpty(t, rep.Timeline)
	checkConsistent(t, rep)

	// --rps: about 200 calls in the second.
	r = fastrpc(t, "bench", d.addr, "echo", "--json", "-z", "1s", "--rps", "200", "-c", "4")
	require.Equal(t, exitOK, r.code, r.stderr)
	rep = decodeReport(t, r.stdout)
	assert.GreaterOrEqual(t, rep.Calls, uint64(100))
	assert.LessOrEqual(t, rep.Calls, uint64(300))
	assert.Equal(t, 200.0, rep.Settings.RPS)
	checkConsistent(t, rep)

	// With -n, --rps spreads the calls: 20 at 100/s take about 0.2s.
	r = fastrpc(t, "bench", d.addr, "echo", "--json", "-n", "20", "--rps", "100", "-c", "4")
	require.Equal(t, exitOK, r.code, r.stderr)
	rep = decodeReport(t, r.stdout)
	assert.Equal(t, uint64(20), rep.Calls)
	assert.GreaterOrEqual(t, rep.DurationNs, int64(150*time.Millisecond))
}

func TestBenchInterrupted(t *testing.T) {
	forceTerminal(t, true) // the progress line tells when calls are done
	d := startDemo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"bench", d.addr, "echo", "--json", "-n", "1000000000", "-c", "4"}, strings.NewReader(""), &stdout, stderr)
	}()
	progressed := regexp.MustCompile(`\r[1-9][0-9]*/1000000000 calls`)
	deadline := time.Now().Add(hangGuard)
	for !progressed.MatchString(stderr.String()) {
		require.True(t, time.Now().Before(deadline), "no calls made: %q", stderr.String())
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(hangGuard):
		t.Fatal("bench did not stop when its context was cancelled")
	}
	assert.Equal(t, exitInterrupted, code)
	rep := decodeReport(t, stdout.String())
	assert.True(t, rep.Interrupted)
	assert.Equal(t, exitInterrupted, rep.ExitCode)
	assert.Positive(t, rep.Calls)
	assert.Less(t, rep.Calls, uint64(1000000000))
	assert.Zero(t, rep.Errors, "calls cut short by the interruption are not errors")
	checkConsistent(t, rep)
	// The progress line was cleared before the one-line error.
	assert.Regexp(t, `\r +\rfastrpc: bench: interrupted after [0-9]+ calls; the report covers those\n$`, stderr.String())
}

func TestBenchProgress(t *testing.T) {
	d := startDemo(t)
	for _, on := range []bool{false, true} {
		forceTerminal(t, on)
		r := fastrpc(t, "bench", d.addr, "slow", "-d", "5ms", "-z", "300ms", "-c", "2", "--json")
		require.Equal(t, exitOK, r.code, r.stderr)
		if !on {
			assert.Empty(t, r.stderr)
			continue
		}
		assert.Regexp(t, `^\r[0-9.]+s/300ms  [0-9]+ calls  [0-9]+ calls/s  0 errors  p99 `, r.stderr)
		assert.GreaterOrEqual(t, strings.Count(r.stderr, "\r"), 3, "rewritten in place: %q", r.stderr)
		assert.True(t, strings.HasSuffix(r.stderr, "\r"), "cleared at the end: %q", r.stderr)
		assert.NotContains(t, r.stderr, "\n")
		assert.NotContains(t, r.stdout, "\r", "the report is apart from the progress line")
	}
}

func TestBenchErrors(t *testing.T) {
	forceTerminal(t, false)
	d := startDemo(t)

	// Timeouts: the per-call --timeout, each call's own.
	start := time.Now()
	r := fastrpc(t, "bench", d.addr, "slow", "-d", "5s", "--timeout", "50ms", "-n", "6", "-c", "3", "--warmup", "0", "--json")
	assert.Less(t, time.Since(start), 4*time.Second, "--timeout bounds each call")
	require.Equal(t, exitCall, r.code, r.stderr)
	assert.Equal(t, "fastrpc: bench: 6 of 6 calls failed: 6 timeout\n", r.stderr)
	rep := decodeReport(t, r.stdout)
	checkConsistent(t, rep)
	assert.Equal(t, uint64(6), rep.Errors)
	require.Len(t, rep.ErrorsByKind, 1)
	k := rep.ErrorsByKind[0]
	assert.Equal(t, "timeout", k.Kind)
	assert.Equal(t, exitCall, k.ExitCode)
	assert.Contains(t, k.FirstMessage, "fastrpc: timed out after 50ms (raise --timeout)")
	assert.Equal(t, exitCall, rep.ExitCode)

	// An application error and its code: exit 1, the report in text.
	r = fastrpc(t, "bench", d.addr, "greet", "-d", `{"name": ""}`, "-n", "10", "-c", "2")
	require.Equal(t, exitRemote, r.code, r.stderr)
	assert.Equal(t, "fastrpc: bench: 10 of 10 calls failed: 10 application_error 400\n", r.stderr)
	assert.Contains(t, r.stdout, "  calls     10 (0 ok, 10 errors)\n")
	assert.Contains(t, r.stdout, "errors by kind:\n  application_error 400  10  (exit 1) first: fastrpc: method \"greet\" answered with an error (code 400): name is empty\n")
	assert.NotContains(t, r.stdout, "histogram")

	// A request the codec method cannot decode (msgpack with the wrong
	// shape): the typed layer's code.
	r = fastrpc(t, "bench", d.addr, "add", "-d", `"text"`, "-n", "3", "-c", "1", "--json")
	require.Equal(t, exitRemote, r.code, r.stderr)
	rep = decodeReport(t, r.stdout)
	require.Len(t, rep.ErrorsByKind, 1)
	assert.Equal(t, "application_error", rep.ErrorsByKind[0].Kind)
	assert.Equal(t, typed.CodeBadRequest, rep.ErrorsByKind[0].Code)

	// No such method: refused before the run, as call refuses it.
	r = fastrpc(t, "bench", d.addr, "nope")
	requireFailure(t, r, exitRemote, `master has no method "nope"; run "fastrpc caps `+d.addr+`" for the list`)

	// Nothing listening: the run cannot start.
	addr := freeAddr(t)
	r = fastrpc(t, "bench", addr, "echo")
	requireFailure(t, r, exitCall, "cannot reach "+addr+": connection refused; is a master running there?")
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		parts []string
	}{
		{[]string{"bench", "127.0.0.1:1"}, []string{"missing ADDR or METHOD"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "x"}, []string{`unexpected argument "x"`}},
		{[]string{"bench", "127.0.0.1:1", "echo", "-n", "10", "-z", "1s"}, []string{"-n (a number of calls) or -z (a duration), not both"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "-n", "0"}, []string{"-n 0: want from 1 to 1000000000 calls"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "-n", "1000000001"}, []string{"-n 1000000001"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "-c", "0"}, []string{"-c 0: want from 1 to 10000 callers"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "-c", "10001"}, []string{"-c 10001"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "--connections", "0"}, []string{"--connections 0"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "--connections", "x"}, []string{`invalid value "x" for flag -connections`}},
		{[]string{"bench", "127.0.0.1:1", "echo", "-z", "-1s"}, []string{"-z -1s"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "--rps", "-1"}, []string{"--rps -1"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "--warmup", "-1"}, []string{"--warmup -1"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "--timeout", "2h"}, []string{"--timeout 2h0m0s: want at most 1h0m0s per call"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "--timeout", "0s"}, []string{"--timeout 0s: want a positive duration"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "--size", "1", "-d", "x"}, []string{"-d (the request) or --size (random bytes), not both"}},
		{[]string{"bench", "127.0.0.1:1", "echo", "--size", "lots"}, []string{`--size "lots"`}},
		{[]string{"bench", "127.0.0.1:1", "echo", "-d", "@/nonexistent/file"}, []string{"-d @/nonexistent/file", "no such file"}},
	} {
		t.Run(strings.Join(tc.args[2:], " "), func(t *testing.T) {
			requireFailure(t, fastrpc(t, tc.args...), exitUsage, tc.parts...)
		})
	}
	// Refused once the method's codec is known: still nothing measured.
	d := startDemo(t)
	requireFailure(t, fastrpc(t, "bench", d.addr, "add", "-d", `{"a": 1,`), exitUsage, `method "add" takes msgpack: the JSON given does not fit`)
	requireFailure(t, fastrpc(t, "bench", d.addr, "add", "--size", "10"), exitUsage, `--size sends random bytes, for raw methods; method "add" takes msgpack`)

	r := fastrpc(t, "bench", "--help")
	require.Equal(t, exitOK, r.code)
	help := strings.Join(strings.Fields(r.stdout), " ")
	for _, s := range []string{"130 interrupted", "for bench it bounds every call, not the whole run", "(default: -c)", "--warmup N", "--html FILE", "self-contained HTML page"} {
		assert.Contains(t, help, s)
	}
}

func TestTimelineBounded(t *testing.T) {
	tl := &timeline{every: 1}
	added, last := 0, 0
	for i := 1; i <= 3*maxTimelinePoints+7; i++ {
		if i%tl.every != 0 {
			continue // monitor takes a point every tl.every ticks
		}
		added++
		tl.add(timePoint{TNs: int64(last) * int64(time.Second), DurationNs: int64(i-last) * int64(time.Second), Calls: 10, Errors: 1, P50Ns: int64(i), P99Ns: 2 * int64(i)})
		last = i
	}
	assert.LessOrEqual(t, len(tl.Points), maxTimelinePoints)
	assert.Equal(t, 4, tl.every)
	var calls uint64
	for i, p := range tl.Points {
		calls += p.Calls
		if i > 0 {
			assert.Equal(t, tl.Points[i-1].TNs+tl.Points[i-1].DurationNs, p.TNs, "point %d follows the one before", i)
		}
	}
	assert.Equal(t, uint64(10*added), calls, "every call counted once")
	assert.Equal(t, int64(0), tl.Points[0].TNs)
	assert.Equal(t, timePoint{Calls: 4, Errors: 1, P50Ns: 20, P99Ns: 60, DurationNs: 3},
		mergePoints(timePoint{Calls: 3, Errors: 1, P50Ns: 10, P99Ns: 50, DurationNs: 1}, timePoint{Calls: 1, P50Ns: 40, P99Ns: 60, DurationNs: 2}))
}

// TestBenchBinary sends SIGINT to the real binary in the middle of a run:
// it prints the report of what ran and exits 130.
func TestBenchBinary(t *testing.T) {
	bin := buildBinary(t)
	d := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bench", d.addr, "echo", "-n", "1000000000", "-c", "2")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	time.Sleep(700 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v; stderr: %s", err, stderr.String())
	assert.Equal(t, exitInterrupted, ee.ExitCode(), stderr.String())
	assert.Contains(t, stdout.String(), "interrupted: the report covers the calls that ended before\n")
	m := regexp.MustCompile(`(?m)^  calls     ([0-9]+) \(([0-9]+) ok, 0 errors\)$`).FindStringSubmatch(stdout.String())
	require.NotNil(t, m, stdout.String())
	n, _ := strconv.Atoi(m[1])
	assert.Positive(t, n)
	assert.Less(t, n, 1000000000)
	assert.Regexp(t, `^fastrpc: bench: interrupted after [0-9]+ calls; the report covers those\n$`, stderr.String())
}
