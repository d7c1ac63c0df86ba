// Command rpcbench runs FastRpc and its peers through the same echo
// workloads and prints a table of results with their ratio to the floor (a
// plain length-prefixed TCP echo with buffered I/O).
//
//	cd bench && go run ./cmd/rpcbench          # full run: 7 rounds, about 6 minutes on 2 cores
//	cd bench && go run ./cmd/rpcbench -quick   # smoke run: 3 short rounds, under a minute
//
// Workloads:
//
//	latency  1 caller, 32-byte payloads: mean, p50, p99, allocations per call
//	         (client and server together), pinned to one CPU with taskset -c 0
//	parallel 64 concurrent callers, 32-byte payloads: calls/s, p99
//	mib      4 callers, 1 MiB payloads: MB/s (payload counted once)
//	stream   one 1 GiB streamed transfer: MB/s, and peak RSS (VmHWM) of the
//	         client and of the server, each its own process
//
// Every measurement runs in a fresh child process (this binary, re-executed
// with a role flag), so no system inherits another's heap. Each round runs
// every workload with the systems in a fresh random order; the table gives
// the median of the rounds' values and the median of the rounds' ratios to
// the floor. A second copy of the floor, the control, measures the noise:
// when its ratio to the floor is not within 10%, the metric is flagged.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/AmanTrance/FastRpc/bench"
)

type options struct {
	rounds     int
	dur, warm  time.Duration
	streamSize int64
	systems    string
	workloads  string
	pin        bool
	seed       uint64
	cpuprofile string
	quick      bool
	noise      float64

	// child roles
	role   string
	system string
	addr   string
	size   int
	calls  int
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 7, "rounds; each runs every system once per workload, in a fresh random order")
	flag.DurationVar(&o.dur, "dur", time.Second, "measured time of each latency, parallel and mib measurement")
	flag.DurationVar(&o.warm, "warm", 300*time.Millisecond, "unmeasured warm-up before each measurement")
	flag.Int64Var(&o.streamSize, "stream-size", 1<<30, "bytes of the streamed transfer")
	flag.StringVar(&o.systems, "systems", "", "comma-separated systems to run (the floor and control always run); empty means all")
	flag.StringVar(&o.workloads, "workloads", "latency,parallel,mib,stream", "comma-separated workloads to run")
	flag.BoolVar(&o.pin, "pin", true, "pin the latency workload to CPU 0 with taskset -c 0")
	flag.Uint64Var(&o.seed, "seed", 0, "seed of the random orders; 0 picks one from the clock")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "directory where each child process writes a CPU profile")
	flag.BoolVar(&o.quick, "quick", false, "smoke run: 3 rounds of 300 ms measurements, 128 MiB streamed")
	flag.Float64Var(&o.noise, "noise", 0.10, "flag a metric as noise when the control is further than this from the floor")
	flag.StringVar(&o.role, "role", "", "internal: the child process's role")
	flag.StringVar(&o.system, "system", "", "internal: the child's system")
	flag.StringVar(&o.addr, "addr", "", "internal: the stream client's server address")
	flag.IntVar(&o.size, "size", 32, "internal: payload size")
	flag.IntVar(&o.calls, "callers", 1, "internal: concurrent callers")
	flag.Parse()
	if o.quick {
		o.rounds, o.dur, o.warm, o.streamSize = 3, 300*time.Millisecond, 100*time.Millisecond, 128<<20
	}
	var err error
	if o.role != "" {
		err = child(o)
	} else {
		err = parent(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rpcbench:", err)
		os.Exit(1)
	}
}

// Result is what a child reports, as one JSON line on stdout.
type Result struct {
	Stats          bench.Stats
	GOMAXPROCS     int
	ForBufferAlloc float64 // fastrpc only: allocations per CallForBuffer
	// Streamed transfer.
	Bytes      int64
	Seconds    float64
	ClientPeak int64
	ServerPeak int64
}

// ---- child processes ----

func child(o options) (err error) {
	if o.cpuprofile != "" {
		name := strings.NewReplacer("/", "_").Replace(fmt.Sprintf("%s-%s-%d.pprof", o.role, o.system, time.Now().UnixNano()))
		f, err := os.Create(filepath.Join(o.cpuprofile, name))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
	}
	sys, err := bench.Lookup(o.system)
	if err != nil {
		return err
	}
	switch o.role {
	case "measure":
		return measureChild(o, sys)
	case "stream-server":
		return streamServer(sys)
	case "stream-client":
		return streamClient(o, sys)
	}
	return fmt.Errorf("unknown role %q", o.role)
}

func measureChild(o options, sys bench.System) error {
	srv, err := sys.Serve()
	if err != nil {
		return err
	}
	defer srv.Close()
	cl, err := sys.Dial(srv.Addr(), o.calls)
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := bench.Measure(cl, o.calls, o.size, o.warm, o.dur)
	if err != nil {
		return err
	}
	r := Result{Stats: st, GOMAXPROCS: runtime.GOMAXPROCS(0), ForBufferAlloc: math.NaN()}
	if o.calls == 1 {
		if fb, ok := bench.ForBuffer(cl); ok {
			if r.ForBufferAlloc, err = bench.AllocsPerCall(fb, o.size, 2000); err != nil {
				return err
			}
		}
	}
	return report(r)
}

func report(r Result) error {
	if math.IsNaN(r.ForBufferAlloc) {
		r.ForBufferAlloc = -1
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Printf("%s\n", b)
	return err
}

// streamServer serves until its standard input closes, then reports its
// peak RSS.
func streamServer(sys bench.System) error {
	srv, err := sys.Serve()
	if err != nil {
		return err
	}
	fmt.Printf("ADDR %s\n", srv.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	peak := bench.PeakRSS()
	_ = srv.Close()
	_, err = fmt.Printf("PEAK %d\n", peak)
	return err
}

func streamClient(o options, sys bench.System) error {
	size := int64(o.size)
	t0 := time.Now()
	n, err := sys.Stream(o.addr, size)
	secs := time.Since(t0).Seconds()
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("streamed %d bytes, the server counted %d", size, n)
	}
	return report(Result{Bytes: n, Seconds: secs, ClientPeak: bench.PeakRSS(), ForBufferAlloc: math.NaN()})
}

// ---- the parent: rounds, orders, table ----

type workload struct {
	name, title   string
	callers, size int
	pinned        bool
}

var allWorkloads = []workload{
	{name: "latency", title: "1 caller, 32 B (pinned to CPU 0)", callers: 1, size: 32, pinned: true},
	{name: "parallel", title: "64 callers, 32 B", callers: 64, size: 32},
	{name: "mib", title: "4 callers, 1 MiB", callers: 4, size: 1 << 20},
	{name: "stream", title: "1 streamed transfer"},
}

// metric is one column of results: its unit, and whether more is better.
type metric struct {
	key, label string
	higher     bool
	primary    bool // the metric the noise verdict is about
	fmt        func(float64) string
}

func us(v float64) string  { return fmt.Sprintf("%.1f µs", v/1e3) }
func num(v float64) string { return fmt.Sprintf("%.0f", v) }
func mb(v float64) string  { return fmt.Sprintf("%.0f MB/s", v) }
func mib(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
func al(v float64) string  { return fmt.Sprintf("%.2f", v) }

var metrics = map[string][]metric{
	"latency": {
		{key: "mean", label: "mean", primary: true, fmt: us},
		{key: "p50", label: "p50", fmt: us},
		{key: "p99", label: "p99", fmt: us},
		{key: "allocs", label: "allocs/call (both ends)", fmt: al},
	},
	"parallel": {
		{key: "cps", label: "calls/s", higher: true, primary: true, fmt: num},
		{key: "p99", label: "p99", fmt: us},
	},
	"mib": {
		{key: "mbps", label: "MB/s", higher: true, primary: true, fmt: mb},
	},
	"stream": {
		{key: "mbps", label: "MB/s", higher: true, primary: true, fmt: mb},
		{key: "cpeak", label: "peak RSS client", fmt: mib},
		{key: "speak", label: "peak RSS server", fmt: mib},
	},
}

// values[workload][system][metric] holds one value per round.
type values map[string]map[string]map[string][]float64

func (v values) add(w, s, m string, x float64) {
	if v[w] == nil {
		v[w] = map[string]map[string][]float64{}
	}
	if v[w][s] == nil {
		v[w][s] = map[string][]float64{}
	}
	v[w][s][m] = append(v[w][s][m], x)
}

func parent(o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	systems := bench.Systems()
	if o.systems != "" {
		want := strings.Split(o.systems, ",")
		for _, name := range want {
			if _, err := bench.Lookup(name); err != nil {
				return fmt.Errorf("-systems: %w; the systems are %s", err, systemNames())
			}
		}
		systems = slices.DeleteFunc(systems, func(s bench.System) bool {
			return s.Name != bench.Floor && s.Name != bench.Control && !slices.Contains(want, s.Name)
		})
	}
	var wls []workload
	for _, name := range strings.Split(o.workloads, ",") {
		i := slices.IndexFunc(allWorkloads, func(w workload) bool { return w.name == name })
		if i < 0 {
			return fmt.Errorf("unknown workload %q", name)
		}
		wls = append(wls, allWorkloads[i])
	}
	taskset := ""
	if o.pin {
		if taskset, err = exec.LookPath("taskset"); err != nil {
			fmt.Fprintln(os.Stderr, "rpcbench: taskset not found; the latency workload runs unpinned")
			taskset = ""
		}
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(o.seed, 0))
	if o.cpuprofile != "" {
		if err := os.MkdirAll(o.cpuprofile, 0o755); err != nil {
			return err
		}
	}

	fmt.Printf("rpcbench: %d rounds, %v measurements after %v warm-up, %d MiB streamed, seed %d\n",
		o.rounds, o.dur, o.warm, o.streamSize>>20, o.seed)
	fmt.Println(machine())
	if bench.TypedNote != "" {
		fmt.Println("note:", bench.TypedNote)
	}
	began := time.Now()
	vals := values{}
	forBuffer := []float64{}
	pinnedProcs := 0
	for r := range o.rounds {
		fmt.Fprintf(os.Stderr, "round %d/%d", r+1, o.rounds)
		for _, w := range wls {
			order := slices.Clone(systems)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, sys := range order {
				if w.name == "stream" {
					if sys.Stream == nil {
						continue
					}
					res, err := runStream(self, o, sys)
					if err != nil {
						return fmt.Errorf("stream %s: %w", sys.Name, err)
					}
					vals.add(w.name, sys.Name, "mbps", float64(res.Bytes)/res.Seconds/1e6)
					vals.add(w.name, sys.Name, "cpeak", float64(res.ClientPeak))
					vals.add(w.name, sys.Name, "speak", float64(res.ServerPeak))
					continue
				}
				tset := ""
				if w.pinned {
					tset = taskset
				}
				res, err := runMeasure(self, o, sys, w, tset)
				if err != nil {
					return fmt.Errorf("%s %s: %w", w.name, sys.Name, err)
				}
				st := res.Stats
				switch w.name {
				case "latency":
					vals.add(w.name, sys.Name, "mean", float64(st.Mean))
					vals.add(w.name, sys.Name, "p50", float64(st.P50))
					vals.add(w.name, sys.Name, "p99", float64(st.P99))
					vals.add(w.name, sys.Name, "allocs", st.AllocsPerCall)
					if res.ForBufferAlloc >= 0 {
						forBuffer = append(forBuffer, res.ForBufferAlloc)
					}
					pinnedProcs = res.GOMAXPROCS
				case "parallel":
					vals.add(w.name, sys.Name, "cps", st.CallsPerSec)
					vals.add(w.name, sys.Name, "p99", float64(st.P99))
				case "mib":
					vals.add(w.name, sys.Name, "mbps", st.MBPerSec)
				}
				fmt.Fprint(os.Stderr, ".")
			}
		}
		fmt.Fprintln(os.Stderr)
	}
	took := time.Since(began)

	cmdline := "go run ./cmd/rpcbench " + strings.Join(os.Args[1:], " ")
	fmt.Printf("command: cd bench && %s\n", strings.TrimSpace(cmdline))
	if taskset != "" {
		fmt.Printf("latency pinned with %s -c 0 (GOMAXPROCS %d there); other workloads on all %d CPUs\n", taskset, pinnedProcs, runtime.NumCPU())
	}
	fmt.Println()
	printTable(o, wls, systems, vals)
	printTargets(o, vals, forBuffer)
	printMetadataCost(wls, vals)
	printNotes(systems)
	fmt.Printf("\nrun took %v\n", took.Round(time.Second))
	return nil
}

func childArgs(o options, sys bench.System, role string) []string {
	args := []string{"-role", role, "-system", sys.Name,
		"-dur", o.dur.String(), "-warm", o.warm.String()}
	if o.cpuprofile != "" {
		args = append(args, "-cpuprofile", o.cpuprofile)
	}
	return args
}

func runMeasure(self string, o options, sys bench.System, w workload, taskset string) (Result, error) {
	args := append(childArgs(o, sys, "measure"), "-size", strconv.Itoa(w.size), "-callers", strconv.Itoa(w.callers))
	name := self
	if taskset != "" {
		args = append([]string{"-c", "0", self}, args...)
		name = taskset
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+4*(o.dur+o.warm))
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, err
	}
	return parseResult(out)
}

func parseResult(out []byte) (Result, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var r Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return r, fmt.Errorf("child's answer %q: %w", out, err)
	}
	return r, nil
}

// runStream starts the server and the client as two child processes so
// that each end's peak RSS is its own.
func runStream(self string, o options, sys bench.System) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, self, childArgs(o, sys, "stream-server")...)
	srv.Stderr = os.Stderr
	stdin, err := srv.StdinPipe()
	if err != nil {
		return Result{}, err
	}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	if err := srv.Start(); err != nil {
		return Result{}, err
	}
	exited := false
	defer func() {
		if !exited {
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	}()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		return Result{}, errors.New("the server child said nothing")
	}
	addr, ok := strings.CutPrefix(sc.Text(), "ADDR ")
	if !ok {
		return Result{}, fmt.Errorf("the server child said %q", sc.Text())
	}
	args := append(childArgs(o, sys, "stream-client"), "-addr", addr, "-size", strconv.FormatInt(o.streamSize, 10))
	cl := exec.CommandContext(ctx, self, args...)
	cl.Stderr = os.Stderr
	out, err := cl.Output()
	if err != nil {
		return Result{}, err
	}
	res, err := parseResult(out)
	if err != nil {
		return res, err
	}
	_ = stdin.Close()
	if !sc.Scan() {
		return Result{}, errors.New("the server child did not report its peak RSS")
	}
	peak, ok := strings.CutPrefix(sc.Text(), "PEAK ")
	if !ok {
		return Result{}, fmt.Errorf("the server child said %q", sc.Text())
	}
	if res.ServerPeak, err = strconv.ParseInt(peak, 10, 64); err != nil {
		return res, err
	}
	exited = true
	return res, srv.Wait()
}

// ---- reporting ----

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratios returns the per-round ratios a/b.
func ratios(a, b []float64) []float64 {
	var r []float64
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			r = append(r, a[i]/b[i])
		}
	}
	return r
}

func printTable(o options, wls []workload, systems []bench.System, vals values) {
	fmt.Println("| workload | system | metric | value | ratio to floor |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, w := range wls {
		title := w.title
		if w.name == "stream" {
			title = fmt.Sprintf("1 streamed transfer of %d MiB", o.streamSize>>20)
		}
		floor := vals[w.name][bench.Floor]
		for _, m := range metrics[w.name] {
			for _, sys := range systems {
				v := vals[w.name][sys.Name][m.key]
				if v == nil {
					if m.primary {
						fmt.Printf("| %s | %s | %s | n/a | |\n", title, sys.Name, m.label)
					}
					continue
				}
				ratio := ""
				if m.key != "allocs" {
					rr := median(ratios(v, floor[m.key]))
					ratio = fmt.Sprintf("%.2fx", rr)
					if sys.Name == bench.Control && math.Abs(rr-1) > o.noise {
						ratio += " NOISE"
					}
				}
				fmt.Printf("| %s | %s | %s | %s | %s |\n", title, sys.Name, m.label, m.fmt(median(v)), ratio)
			}
		}
	}
	fmt.Println()
	fmt.Println("Ratios are medians of per-round ratios to tcp-floor in the same round (latency: lower is better; calls/s, MB/s: higher is better).")
	var noisy []string
	for _, w := range wls {
		for _, m := range metrics[w.name] {
			if !m.primary {
				continue
			}
			rr := median(ratios(vals[w.name][bench.Control][m.key], vals[w.name][bench.Floor][m.key]))
			verdict := "ok"
			if math.Abs(rr-1) > o.noise {
				verdict = "NOISE: this workload's results are not a result"
				noisy = append(noisy, w.name)
			}
			fmt.Printf("control/floor, %s %s: %.2fx (%s)\n", w.name, m.label, rr, verdict)
		}
	}
	if len(noisy) > 0 {
		fmt.Printf("run flagged as noise for: %s\n", strings.Join(noisy, ", "))
	}
}

type target struct {
	what        string
	sysA        string
	sysB        string // ratio A/B per round, or B/A when lower is better
	wl, m       string
	bound       float64
	atLeast     bool
	lowerBetter bool
}

func printTargets(o options, vals values, forBuffer []float64) {
	fr := bench.FastRpcName
	ts := []target{
		{what: "latency (mean) within 1.1x of floor", sysA: fr, sysB: bench.Floor, wl: "latency", m: "mean", bound: 1.1},
		{what: "latency (p50) within 1.1x of floor", sysA: fr, sysB: bench.Floor, wl: "latency", m: "p50", bound: 1.1},
		{what: "latency (mean): gRPC / fastrpc >= 2.5", sysA: "grpc", sysB: fr, wl: "latency", m: "mean", bound: 2.5, atLeast: true},
		{what: "latency (mean): drpc / fastrpc >= 2.5", sysA: "drpc", sysB: fr, wl: "latency", m: "mean", bound: 2.5, atLeast: true},
		{what: "64 callers: calls/s >= 0.9x floor", sysA: fr, sysB: bench.Floor, wl: "parallel", m: "cps", bound: 0.9, atLeast: true},
		{what: "64 callers: calls/s >= 1.6x gRPC", sysA: fr, sysB: "grpc", wl: "parallel", m: "cps", bound: 1.6, atLeast: true},
		{what: "1 MiB: MB/s >= 0.8x floor", sysA: fr, sysB: bench.Floor, wl: "mib", m: "mbps", bound: 0.8, atLeast: true},
		{what: "1 MiB: MB/s >= 2x drpc", sysA: fr, sysB: "drpc", wl: "mib", m: "mbps", bound: 2, atLeast: true},
	}
	fmt.Println()
	fmt.Println("| target | measured (median of per-round ratios) | met |")
	fmt.Println("| --- | --- | --- |")
	for _, t := range ts {
		a, b := vals[t.wl][t.sysA][t.m], vals[t.wl][t.sysB][t.m]
		if a == nil || b == nil {
			continue
		}
		r := median(ratios(a, b))
		ok := r <= t.bound
		if t.atLeast {
			ok = r >= t.bound
		}
		fmt.Printf("| %s | %.2fx | %s |\n", t.what, r, yes(ok))
	}
	if a := vals["latency"][fr]["allocs"]; a != nil {
		m := median(a)
		fmt.Printf("| allocations: CallAppend + buffer-reusing master handler, per call, both ends = 0 | %s | %s |\n", al(m), yes(m < 0.01))
	}
	if len(forBuffer) > 0 {
		m := median(forBuffer)
		fmt.Printf("| allocations: CallForBuffer per call, both ends = 1 (its result) | %s | %s |\n", al(m), yes(m < 1.01))
	}
	if s := vals["stream"][fr]; s != nil {
		bound := float64(min(o.streamSize/4, 64<<20))
		c, sv := slices.Max(s["cpeak"]), slices.Max(s["speak"])
		fmt.Printf("| %d MiB streamed: peak RSS bounded (< %s each end, worst round) | client %s, server %s | %s |\n",
			o.streamSize>>20, mib(bound), mib(c), mib(sv), yes(c < bound && sv < bound))
	}
}

// printMetadataCost gives the metadata row against the raw row, per
// primary metric and latency p50: the cost of two metadata pairs a call.
func printMetadataCost(wls []workload, vals values) {
	md, fr := bench.FastRpcMetadataName, bench.FastRpcName
	header := false
	for _, w := range wls {
		for _, m := range metrics[w.name] {
			if !m.primary && m.key != "p50" {
				continue
			}
			a, b := vals[w.name][md][m.key], vals[w.name][fr][m.key]
			if a == nil || b == nil {
				continue
			}
			if !header {
				fmt.Println()
				fmt.Printf("| metadata cost: %s / %s | %s | %s | ratio (median of per-round ratios) |\n", md, fr, md, fr)
				fmt.Println("| --- | --- | --- | --- |")
				header = true
			}
			fmt.Printf("| %s %s | %s | %s | %.3fx |\n", w.name, m.label, m.fmt(median(a)), m.fmt(median(b)), median(ratios(a, b)))
		}
	}
}

func systemNames() string {
	var names []string
	for _, s := range bench.Systems() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func printNotes(systems []bench.System) {
	fmt.Println()
	fmt.Println("How each system is used:")
	for _, s := range systems {
		fmt.Printf("- %s: %s; streamed: %s\n", s.Name, s.Conns, orNA(s))
	}
}

func orNA(s bench.System) string {
	if s.StreamHow == "" {
		return "n/a"
	}
	return s.StreamHow
}

// machine describes the CPU, kernel and Go version.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b)) + ", "
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("machine: %s, %d CPUs%s, %s%s %s/%s, %s",
		cpu, runtime.NumCPU(), mem, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02"))
}
