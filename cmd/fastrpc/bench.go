package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/slave"
)

// exitInterrupted is bench's status when SIGINT or SIGTERM (run's context)
// stopped it early: 128 + SIGINT, what a shell reports for a command
// Ctrl-C ended.
const exitInterrupted = 130

// Bounds of bench's flags.
const (
	maxConcurrency = 10000
	maxBenchCalls  = 1_000_000_000
	maxBenchTime   = 24 * time.Hour
	maxRPS         = 10_000_000
	maxWarmup      = 1000
	maxCallTimeout = time.Hour
	// maxShards bounds the histograms callers record into: callers share
	// them, with atomic counters, so memory is independent of -c.
	maxShards = 64
)

const benchTimeoutUsage = "give up on each call after `DURATION`: for bench it bounds every call, not the whole run " +
	"(and reading -d, the capabilities lookup and opening the connections); the master gets it as each call's deadline"

var benchCommand = &command{
	name:    "bench",
	args:    "ADDR METHOD",
	summary: "load-test a method: calls/s, latency percentiles, errors",
	details: `
Calls METHOD on the master at ADDR from -c concurrent callers over
--connections connections, -n times in all or for -z, and reports calls/s,
latency percentiles (p50 to p99.9, max, mean, from an HDR histogram with
three significant digits), a histogram and the errors by kind.

The request is the same for every call: -d as for "fastrpc call" (DATA,
@FILE, - for stdin; for a method taking a codec, JSON encoded once with the
method's codec), or --size N random bytes for a raw method; without either
it is empty (JSON null for a codec method). Responses are read into a
buffer each caller reuses and are not decoded.

Before measuring, each caller makes --warmup calls, not counted and not
held to --rps, once all the connections are open: the measured calls then
pay no connection set-up.

--rps caps the calls per second of all callers together on a fixed
schedule (call k is due k/rps after the start, so the rate does not drift);
a caller still waits for its call to end before making the next, so when
the master is slower than the schedule the calls go out as soon as callers
are free. Latency is measured from sending each call to its response,
including any wait for a connection when --connections is below -c, and
only for calls that succeeded; calls that failed are counted by kind
(timeout, unreachable, application error and its code, ...) with the
first message of each. With -z, calls in flight at the end finish (within
--timeout) and count.

While it runs, and stderr is a terminal, a progress line on stderr is
rewritten four times a second: calls done, calls/s, errors and the p99 of
the last second. The report goes to stdout: text, or with --json one JSON
object (fields in README.md): settings, calls, ok, errors, duration_ns,
rps, latency_ns, histogram, errors_by_kind, timeline (calls, errors, p50
and p99 per second, at most 3600 points: longer runs merge them in pairs)
and exit_code.

--html FILE also writes the report as one self-contained HTML page (the
summary, a latency histogram and latency and calls/s over time as inline
SVG; it loads nothing from the network), with the text or --json report
still on stdout. It is written as "fastrpc call -o FILE" writes: to a
temporary file beside FILE, renamed into place once complete (an existing
FILE keeps its mode, a new one gets 0644; a symlink is followed, a device
or FIFO written straight into, a directory refused before the run); a run
that ends with errors, or is interrupted, still writes it.

Ctrl-C (SIGINT) or SIGTERM stops the run early: calls in flight are
abandoned and not counted, and the report covers the calls that ended.

Exit status:
  0    every call succeeded
  1    some calls got an error answer from the master (an application
       error, unknown method, ...) and none failed to be made
  2    usage: bad flags or arguments, -d that is not JSON for a codec
       method, a request larger than the slave sends; nothing was sent
  3    some calls could not be made (timed out, unreachable, connection
       failed), or the run could not start: the master is unreachable or
       not a FastRpc master. METHOD is looked up first: a master without
       it is 1, before any call
  130  interrupted by SIGINT or SIGTERM; the report covers what ran
When a run ends with 1 or 3 the report is still printed, then one line on
stderr starting "fastrpc: ".`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		var o dialOptions
		var b benchOptions
		fs.IntVar(&b.concurrency, "c", 16, "run `N` callers at once, each making one call after another")
		fs.Var(&b.connections, "connections", "open at most `N` connections to the master (the slave's pool size, "+
			"replacing a --config's pool_size); callers beyond it wait for one (default: -c)")
		fs.Int64Var(&b.calls, "n", 1000, "make `N` calls in all, not counting the warm-up (or give -z)")
		fs.DurationVar(&b.duration, "z", 0, "call for `DURATION` instead of -n calls, such as 30s; 0 is -n's count")
		fs.Float64Var(&b.rps, "rps", 0, "make at most `N` calls per second, all callers together; 0 is no limit")
		fs.Var(&b.data, "d", "the request: `DATA` itself, @FILE for a file's contents, - for stdin; JSON for a codec method (default: empty)")
		fs.StringVar(&b.size, "size", "", "send `SIZE` random bytes (such as 512, 4KiB, 1MiB) as the request of a raw method, instead of -d")
		fs.IntVar(&b.warmup, "warmup", 2, "make `N` calls per caller before measuring, not counted; 0 for none")
		fs.BoolVar(&b.asJSON, "json", false, "print the report as one JSON object")
		fs.StringVar(&b.html, "html", "", "also write the report as a self-contained HTML page with charts to `FILE`")
		o.register(fs)
		fs.Lookup("timeout").Usage = benchTimeoutUsage
		return func(ctx context.Context, std *stdio, args []string) error {
			switch {
			case len(args) == 2:
				b.addr, b.method = args[0], args[1]
			case len(args) == 1 && o.config != "":
				b.method = args[0]
			case len(args) > 2:
				return usageErrorf("bench: unexpected argument %q; usage: fastrpc bench [flags] ADDR METHOD", args[2])
			default:
				return usageErrorf("bench: missing ADDR or METHOD; usage: fastrpc bench [flags] ADDR METHOD")
			}
			fs.Visit(func(f *flag.Flag) {
				if f.Name == "n" {
					b.callsSet = true
				}
			})
			return bench(ctx, std, &o, &b)
		}
	},
}

// optionalInt is an int flag that knows whether it was given; its default
// is documented in its usage.
type optionalInt struct {
	v   int
	set bool
}

func (o *optionalInt) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.Itoa(o.v)
}

func (o *optionalInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("parse error")
	}
	o.v, o.set = v, true
	return nil
}

type benchOptions struct {
	addr, method string
	concurrency  int
	connections  optionalInt
	calls        int64
	callsSet     bool
	duration     time.Duration
	rps          float64
	data         dataFlag
	size         string
	warmup       int
	asJSON       bool
	html         string // --html's file
}

// check validates the flags and fills in the defaults.
func (b *benchOptions) check(o *dialOptions) error {
	if b.concurrency < 1 || b.concurrency > maxConcurrency {
		return usageErrorf("bench: -c %d: want from 1 to %d callers", b.concurrency, maxConcurrency)
	}
	if !b.connections.set {
		b.connections.v = b.concurrency
	}
	if b.connections.v < 1 || b.connections.v > maxConcurrency {
		return usageErrorf("bench: --connections %d: want from 1 to %d", b.connections.v, maxConcurrency)
	}
	if b.duration != 0 {
		if b.callsSet {
			return usageErrorf("bench: give -n (a number of calls) or -z (a duration), not both")
		}
		if b.duration < 0 || b.duration > maxBenchTime {
			return usageErrorf("bench: -z %v: want a duration from 1ns to %v, such as 30s", b.duration, maxBenchTime)
		}
		b.calls = 0
	} else if b.calls < 1 || b.calls > maxBenchCalls {
		return usageErrorf("bench: -n %d: want from 1 to %d calls", b.calls, maxBenchCalls)
	}
	if math.IsNaN(b.rps) || b.rps < 0 || b.rps > maxRPS {
		return usageErrorf("bench: --rps %v: want from 0 (no limit) to %d calls per second", b.rps, maxRPS)
	}
	if b.warmup < 0 || b.warmup > maxWarmup {
		return usageErrorf("bench: --warmup %d: want from 0 to %d calls per caller", b.warmup, maxWarmup)
	}
	if o.timeout > maxCallTimeout {
		return usageErrorf("bench: --timeout %v: want at most %v per call", o.timeout, maxCallTimeout)
	}
	if b.size != "" && b.data.set {
		return usageErrorf("bench: give -d (the request) or --size (random bytes), not both")
	}
	return nil
}

// request is the request every call sends: -d's, encoded for a codec
// method, or --size random bytes.
func (b *benchOptions) request(ctx, parent context.Context, std *stdio, timeout time.Duration) (payload, error) {
	if b.size != "" {
		n, err := parseSize(b.size)
		if err != nil || n > maxInMemory {
			return payload{}, usageErrorf("bench: --size %q: want a size from 0 to %d MiB such as 512, 4KiB or 1MiB", b.size, maxInMemory>>20)
		}
		data := make([]byte, n)
		rng := rand.NewChaCha8([32]byte{'f', 'a', 's', 't', 'r', 'p', 'c'})
		_, _ = rng.Read(data)
		return payload{data: data, size: int64(n)}, nil
	}
	return openPayloadCtx(ctx, parent, b.data, std.in, timeout)
}

func bench(ctx context.Context, std *stdio, o *dialOptions, b *benchOptions) error {
	if err := b.check(o); err != nil {
		return err
	}
	if o.timeout <= 0 {
		return usageErrorf("--timeout %v: want a positive duration such as 10s", o.timeout)
	}
	ctx = o.outgoing(ctx) // -H: every call carries it
	// The setup's deadline first: it bounds reading -d too.
	setup, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	pl, err := b.request(setup, ctx, std, o.timeout)
	if err != nil {
		return err
	}
	defer pl.close()
	var page *output // --html's, created first: a path it cannot write is refused before the run
	if b.html != "" {
		if page, err = createFileOutput("bench: --html", b.html); err != nil {
			return err
		}
		defer page.abort()
	}
	o.poolSize = b.connections.v
	s, addr, err := o.dial(ctx, b.addr, std.errOut)
	if err != nil {
		return err
	}
	defer s.Close()

	// The method's encoding, then every connection open: the run starts
	// only against a master that serves METHOD.
	list, err := s.Capabilities(setup)
	if err != nil {
		return interrupted(ctx, explain(err, addr, b.method, o.timeout))
	}
	var req []byte
	found := false
	for _, c := range list.Methods {
		if c.Name != b.method {
			continue
		}
		found = true
		if in := codecFor(c.IncomingEncoding); in != nil {
			if b.size != "" {
				return usageErrorf("bench: --size sends random bytes, for raw methods; method %q takes %s: give JSON with -d", b.method, in.Name())
			}
			text, err := pl.jsonBytes()
			if err != nil {
				return err
			}
			v, err := parseJSON(text)
			if err == nil {
				req, err = in.Append(nil, v)
			}
			if err != nil {
				return usageErrorf("method %q takes %s: the JSON given does not fit: %v; give JSON such as -d '{\"a\": 1}'", b.method, in.Name(), errtext.Text(err))
			}
			if limit := o.maxRequest; limit > 0 && int64(len(req)) > limit {
				return usageErrorf("method %q takes %s: the request encodes to %d bytes, more than the %d the slave sends (max_request_size); nothing was sent: raise max_request_size in a --config",
					b.method, in.Name(), len(req), limit)
			}
		}
		break
	}
	if !found {
		return unknownMethod(addr, b.method)
	}
	if req == nil {
		if req, err = pl.bytes(); err != nil {
			return err
		}
	}
	if err := s.Warm(setup); err != nil {
		return interrupted(ctx, explain(err, addr, b.method, o.timeout))
	}
	cancel()

	r := newBenchRun(s, addr, b, req, o.timeout)
	var p *progress
	if isTerminal(std.errOut) {
		p = &progress{w: std.errOut, calls: b.calls, duration: b.duration}
	}
	rep := r.run(ctx, p)
	var werr error
	if b.asJSON {
		werr = printJSON(std.out, rep)
	} else {
		werr = rep.writeText(std.out)
	}
	if werr != nil {
		return callErrorf("writing the report: %v", werr)
	}
	if page != nil {
		octx, ocancel := context.WithTimeout(context.Background(), o.timeout)
		err := page.open(octx, octx, o.timeout)
		ocancel()
		if err != nil {
			return err
		}
		if err := writeHTML(page.tracked(), rep); err != nil && page.err == nil {
			page.err = err
		}
		if page.err != nil {
			return callErrorf("bench: --html %s: %v", b.html, page.err)
		}
		if err := page.commit(); err != nil {
			return err
		}
	}
	switch rep.ExitCode {
	case exitInterrupted:
		return &exitError{code: exitInterrupted, msg: fmt.Sprintf("bench: interrupted after %d calls; the report covers those", rep.Calls)}
	case exitOK:
		return nil
	}
	return &exitError{code: rep.ExitCode, msg: fmt.Sprintf("bench: %d of %d calls failed: %s", rep.Errors, rep.Calls, rep.errorSummary())}
}

// benchRun is one run: callers, the histograms they record into, and the
// error tally.
type benchRun struct {
	s            *slave.Slave
	addr, method string
	req          []byte
	timeout      time.Duration
	opts         *benchOptions
	shards       []*benchShard
	tally        errorTally
	next         atomic.Int64 // the next call's number
	start        time.Time
}

// benchShard is what a group of callers records into.
type benchShard struct {
	h     hdr // latencies of the calls that succeeded
	calls atomic.Uint64
	errs  atomic.Uint64
}

func newBenchRun(s *slave.Slave, addr string, b *benchOptions, req []byte, timeout time.Duration) *benchRun {
	n := min(b.concurrency, max(4, 2*runtime.GOMAXPROCS(0)), maxShards)
	r := &benchRun{s: s, addr: addr, method: b.method, req: req, timeout: timeout, opts: b, shards: make([]*benchShard, n)}
	for i := range r.shards {
		r.shards[i] = new(benchShard)
	}
	r.tally.explain = func(err error) (string, int) {
		if errors.Is(err, slave.ErrResponseTooLarge) {
			return errtext.Prefix + strings.TrimPrefix(errtext.Text(err), errtext.Prefix) + `; raise "max_response_size" in a --config`, exitCall
		}
		e := explain(err, addr, b.method, timeout)
		code := exitCall
		var ee *exitError
		if errors.As(e, &ee) {
			code = ee.code
		}
		return errtext.Prefix + strings.TrimPrefix(e.Error(), errtext.Prefix), code
	}
	return r
}

// run warms up, makes the calls and returns the report. Cancelling ctx
// stops it early; p, when not nil, shows the progress.
func (r *benchRun) run(ctx context.Context, p *progress) *benchReport {
	b := r.opts
	var warm, done sync.WaitGroup
	begin := make(chan struct{})
	for i := range b.concurrency {
		warm.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			r.caller(ctx, r.shards[i%len(r.shards)], &warm, begin)
		}()
	}
	warm.Wait()
	r.start = time.Now()
	close(begin)

	stop := make(chan struct{})
	sampled := make(chan *timeline, 1)
	go func() { sampled <- r.monitor(stop, p) }()
	done.Wait()
	elapsed := time.Since(r.start)
	close(stop)
	tl := <-sampled
	return r.report(tl, elapsed, ctx.Err() != nil)
}

// caller makes its warm-up calls, waits for begin, then calls until the
// run ends.
func (r *benchRun) caller(ctx context.Context, sh *benchShard, warm *sync.WaitGroup, begin <-chan struct{}) {
	b := r.opts
	buf := make([]byte, 0, 512)
	for range b.warmup {
		if ctx.Err() != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		if resp, _ := r.s.CallAppend(cctx, r.method, r.req, buf[:0]); resp != nil {
			buf = resp[:0]
		}
		cancel()
	}
	warm.Done()
	<-begin
	var (
		interval float64 // between calls' due times, in ns
		end      time.Time
		timer    *time.Timer
	)
	if b.rps > 0 {
		interval = float64(time.Second) / b.rps
		timer = time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
	}
	if b.duration > 0 {
		end = r.start.Add(b.duration)
	}
	for ctx.Err() == nil {
		k := r.next.Add(1) - 1
		if b.calls > 0 && k >= b.calls {
			return
		}
		if b.rps > 0 {
			due := r.start.Add(time.Duration(float64(k) * interval))
			if !end.IsZero() && !due.Before(end) {
				return
			}
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
		}
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		t0 := time.Now()
		if !end.IsZero() && !t0.Before(end) {
			cancel()
			return
		}
		resp, err := r.s.CallAppend(cctx, r.method, r.req, buf[:0])
		lat := time.Since(t0)
		cancel()
		if resp != nil {
			buf = resp[:0]
		}
		if err != nil {
			if ctx.Err() != nil {
				return // interrupted: not counted
			}
			r.tally.add(err)
			sh.errs.Add(1)
			sh.calls.Add(1)
			continue
		}
		sh.h.Record(int64(lat))
		sh.calls.Add(1)
	}
}

// counts is the calls and errors so far.
func (r *benchRun) counts() (calls, errs uint64) {
	for _, sh := range r.shards {
		errs += sh.errs.Load()
		calls += sh.calls.Load()
	}
	return calls, errs
}

// merged merges the shards' histograms into into.
func (r *benchRun) merged(into *hdr) {
	into.Reset()
	for _, sh := range r.shards {
		into.Merge(&sh.h)
	}
}

// timelineEvery is how often the timeline takes a point, before merging;
// progressEvery how often the progress line is rewritten. Tests shorten
// them.
var (
	timelineEvery = time.Second
	progressEvery = 250 * time.Millisecond
)

// monitor samples the run until stop is closed: a timeline point every
// timelineEvery (the calls, errors, p50 and p99 of that window, as the
// difference of two snapshots of the histograms) and, with p, the progress
// line every progressEvery. Memory is three histograms and the timeline's
// bounded points.
func (r *benchRun) monitor(stop <-chan struct{}, p *progress) *timeline {
	tl := &timeline{every: 1}
	prev, cur := new(hdr), new(hdr)
	var prevCalls, prevErrs uint64
	var last time.Time = r.start
	lastP99 := int64(-1)
	qs, out := []float64{0.5, 0.99}, make([]int64, 2)
	point := func(now time.Time) {
		calls, errs := r.counts()
		r.merged(cur)
		cur.QuantilesSince(prev, qs, out)
		tl.add(timePoint{
			TNs: int64(last.Sub(r.start)), DurationNs: int64(now.Sub(last)),
			Calls: calls - prevCalls, Errors: errs - prevErrs, P50Ns: out[0], P99Ns: out[1],
		})
		if cur.Count() > prev.Count() {
			lastP99 = out[1]
		}
		prev, cur = cur, prev
		prevCalls, prevErrs, last = calls, errs, now
	}
	sec := time.NewTicker(timelineEvery)
	defer sec.Stop()
	var tick <-chan time.Time
	if p != nil {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		tick = t.C
	}
	ticks := 0
	for {
		select {
		case now := <-tick:
			calls, errs := r.counts()
			p.draw(calls, errs, now.Sub(r.start), lastP99)
		case now := <-sec.C:
			ticks++
			if ticks%tl.every == 0 {
				point(now)
			}
		case <-stop:
			if now := time.Now(); now.After(last) {
				if calls, _ := r.counts(); calls > prevCalls || len(tl.Points) == 0 {
					point(now)
				}
			}
			if p != nil {
				p.clear()
			}
			return tl
		}
	}
}

// errorTally counts the calls that failed by kind, keeping the first
// message of each. It is only touched by calls that failed.
type errorTally struct {
	mu      sync.Mutex
	kinds   []errorKind
	explain func(error) (message string, exitCode int)
}

// errorKind is one kind of error in the report.
type errorKind struct {
	Kind         string `json:"kind"`
	Code         uint32 `json:"code,omitempty"` // an application error's code
	Count        uint64 `json:"count"`
	ExitCode     int    `json:"exit_code"` // 1: the master answered with an error; 3: the call could not be made
	FirstMessage string `json:"first_message"`
}

func (t *errorTally) add(err error) {
	kind, code := classify(err)
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.kinds {
		if k := &t.kinds[i]; k.Kind == kind && k.Code == code {
			k.Count++
			return
		}
	}
	msg, exit := t.explain(err)
	t.kinds = append(t.kinds, errorKind{Kind: kind, Code: code, Count: 1, ExitCode: exit, FirstMessage: oneLine(msg)})
}

func (t *errorTally) list() []errorKind {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]errorKind(nil), t.kinds...)
}

// classify names the kind of a failed call's error, by the cases of
// explain, in its order: the kinds are the messages explain gives.
func classify(err error) (kind string, code uint32) {
	var re *slave.RemoteError
	var opErr *net.OpError
	var ve *frame.VersionError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout", 0
	case errors.Is(err, context.Canceled):
		return "interrupted", 0
	case errors.Is(err, syscall.ECONNREFUSED):
		return "unreachable", 0
	case errors.Is(err, frame.ErrBadMagic), errors.As(err, &ve), errors.Is(err, conn.ErrNoPreface):
		return "not_fastrpc", 0
	case errors.Is(err, conn.ErrDialTimeout):
		return "unreachable", 0
	case errors.Is(err, slave.ErrUnavailable) && errors.As(err, &opErr) && opErr.Op == "dial":
		return "unreachable", 0
	case errors.Is(err, slave.ErrUnavailable):
		return "unavailable", 0
	case errors.Is(err, slave.ErrUnknownMethod):
		return "unknown_method", 0
	case errors.As(err, &re):
		switch re.Status {
		case frame.StatusApplicationError:
			return "application_error", re.Code
		case frame.StatusHandlerPanic:
			return "handler_panic", 0
		case frame.StatusPermissionDenied:
			return "permission_denied", re.Code
		case frame.StatusRequestTooLarge:
			return "request_too_large", 0
		}
		return "remote_error", re.Code
	case errors.Is(err, slave.ErrResponseTooLarge):
		return "response_too_large", 0
	case errors.Is(err, slave.ErrConnection):
		return "connection", 0
	case errors.Is(err, slave.ErrProtocol):
		return "protocol", 0
	}
	return "other", 0
}
