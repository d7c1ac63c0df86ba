package bench

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stats is one measurement of an echo workload.
type Stats struct {
	Calls       int
	Elapsed     time.Duration
	Mean        time.Duration
	P50, P99    time.Duration
	CallsPerSec float64
	// MBPerSec counts payload bytes once (the request), in 10^6 bytes.
	MBPerSec float64
	// AllocsPerCall is the process's heap allocations per call during the
	// measurement: client and server together when both run here.
	AllocsPerCall float64
}

// MaxSamples bounds the latencies kept by one measurement; it ends early
// when they are all used.
const MaxSamples = 1 << 20

// Measure runs callers goroutines, each echoing size-byte payloads through
// its Caller of cl, first for warm (not measured) and then for dur.
func Measure(cl Client, callers, size int, warm, dur time.Duration) (Stats, error) {
	per := max(MaxSamples/callers, 1024)
	lats := make([][]time.Duration, callers)
	errs := make([]error, callers)
	var ready, done sync.WaitGroup
	startCh := make(chan struct{})
	var start time.Time
	ready.Add(callers)
	done.Add(callers)
	w0 := time.Now()
	for i := range callers {
		go func() {
			defer done.Done()
			c := cl.Caller(i)
			req := Payload(size)
			dst := make([]byte, 0, size)
			lat := make([]time.Duration, 0, per)
			var err error
			for time.Since(w0) < warm {
				if dst, err = echoOnce(c, req, dst[:0]); err != nil {
					break
				}
			}
			ready.Done()
			<-startCh
			for err == nil {
				a := time.Now()
				dst, err = echoOnce(c, req, dst[:0])
				b := time.Now()
				lat = append(lat, b.Sub(a))
				if b.Sub(start) >= dur || len(lat) == cap(lat) {
					break
				}
			}
			lats[i], errs[i] = lat, err
		}()
	}
	ready.Wait()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start = time.Now()
	close(startCh)
	done.Wait()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&m1)
	for _, err := range errs {
		if err != nil {
			return Stats{}, err
		}
	}
	all := slices.Concat(lats...)
	st := summarize(all, elapsed)
	st.MBPerSec = float64(st.Calls) * float64(size) / elapsed.Seconds() / 1e6
	st.AllocsPerCall = float64(m1.Mallocs-m0.Mallocs) / float64(st.Calls)
	return st, nil
}

func summarize(all []time.Duration, elapsed time.Duration) Stats {
	slices.Sort(all)
	st := Stats{Calls: len(all), Elapsed: elapsed}
	if len(all) == 0 {
		return st
	}
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	st.Mean = sum / time.Duration(len(all))
	st.P50 = all[(len(all)-1)/2]
	st.P99 = all[min(len(all)-1, (len(all)*99+99)/100-1)]
	st.CallsPerSec = float64(len(all)) / elapsed.Seconds()
	return st
}

// echoOnce makes one call and checks the answer's length.
func echoOnce(c Caller, req, dst []byte) ([]byte, error) {
	out, err := c.Echo(req, dst)
	if err == nil && len(out) != len(req) {
		err = fmt.Errorf("echo: sent %d bytes, got %d back", len(req), len(out))
	}
	return out, err
}

// CheckEcho makes one call and compares the answer byte for byte.
func CheckEcho(c Caller, req []byte) error {
	out, err := c.Echo(req, nil)
	if err != nil {
		return err
	}
	if !bytes.Equal(out, req) {
		return fmt.Errorf("echo: %d bytes sent, %d different bytes back", len(req), len(out))
	}
	return nil
}

// AllocsPerCall returns the process's heap allocations per call over n
// calls of c, after a warm-up.
func AllocsPerCall(c Caller, size, n int) (float64, error) {
	req := Payload(size)
	dst := make([]byte, 0, size)
	var err error
	for range 100 {
		if dst, err = echoOnce(c, req, dst[:0]); err != nil {
			return 0, err
		}
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range n {
		if dst, err = echoOnce(c, req, dst[:0]); err != nil {
			return 0, err
		}
	}
	runtime.ReadMemStats(&m1)
	return float64(m1.Mallocs-m0.Mallocs) / float64(n), nil
}

// PeakRSS returns this process's peak resident set size (VmHWM) in bytes,
// or 0 where /proc is not available.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
