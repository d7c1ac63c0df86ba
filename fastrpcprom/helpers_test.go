package fastrpcprom_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// serveMaster registers the test methods on m, serves it on a loopback
// port and returns the address; the test's end closes it.
//
//	echo   answers with the request
//	fail   returns an error: "application error"
//	panic  panics: "handler panic"
func serveMaster(t *testing.T, m *master.Master) string {
	t.Helper()
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer(b)
	}))
	require.NoError(t, m.Register("fail", master.MethodInfo{}, func(op *master.IOOperator) error {
		return errors.New("boom")
	}))
	require.NoError(t, m.Register("panic", master.MethodInfo{}, func(op *master.IOOperator) error {
		panic("boom")
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = m.Serve(context.Background(), ln) }()
	t.Cleanup(func() { _ = m.Close() })
	return ln.Addr().String()
}

// newSlave returns a slave of addr with one connection, closed at the
// test's end.
func newSlave(t *testing.T, addr string, mw ...slave.Middleware) *slave.Slave {
	t.Helper()
	s, err := slave.New(slave.Config{Address: addr, PoolSize: 1, Middleware: mw})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// call makes n calls of method and checks whether they failed as wanted.
func call(t *testing.T, s *slave.Slave, method string, n int, wantErr bool) {
	t.Helper()
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := s.Call(ctx, method, []byte("hello"))
		cancel()
		if wantErr {
			require.Error(t, err, method)
		} else {
			require.NoError(t, err, method)
		}
	}
}

// serveMetrics serves g's metrics over loopback HTTP, as an application
// would, and returns the /metrics URL.
func serveMetrics(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/metrics"
}

// scraped is one scrape of /metrics: the text and its parse.
type scraped struct {
	text     string
	families map[string]*dto.MetricFamily
}

// scrape GETs url, in the text format, and parses it.
func scrape(t *testing.T, url string) scraped {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var sb strings.Builder
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(io.TeeReader(resp.Body, &sb))
	require.NoError(t, err)
	return scraped{text: sb.String(), families: families}
}

// family returns the family called name, of type typ, checking that all
// its series have rpc_system="fastrpc".
func (s scraped) family(t *testing.T, name string, typ dto.MetricType) *dto.MetricFamily {
	t.Helper()
	mf := s.families[name]
	require.NotNil(t, mf, "no metric %s in:\n%s", name, s.text)
	require.Equal(t, typ, mf.GetType(), name)
	require.NotEmpty(t, mf.GetMetric(), name)
	for _, m := range mf.GetMetric() {
		require.Equal(t, "fastrpc", labels(m)["rpc_system"], "%s: %v", name, m)
	}
	return mf
}

// series returns the series of mf whose labels include want, or nil.
func series(mf *dto.MetricFamily, want map[string]string) *dto.Metric {
	for _, m := range mf.GetMetric() {
		got := labels(m)
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
				break
			}
		}
		if match {
			return m
		}
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// histCounts maps "method/status" to a duration histogram's counts.
func (s scraped) histCounts(t *testing.T, name string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, m := range s.family(t, name, dto.MetricType_HISTOGRAM).GetMetric() {
		l := labels(m)
		out[l["rpc_method"]+"/"+l["rpc_fastrpc_status"]] = m.GetHistogram().GetSampleCount()
	}
	return out
}

// counters maps method to a counter's value.
func (s scraped) counters(t *testing.T, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range s.family(t, name, dto.MetricType_COUNTER).GetMetric() {
		out[labels(m)["rpc_method"]] = m.GetCounter().GetValue()
	}
	return out
}

// swapDefaultRegisterer puts a fresh registry in
// prometheus.DefaultRegisterer for the test, and puts the old one back at
// its end. Tests using it must not run in parallel.
func swapDefaultRegisterer(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	old := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = reg
	t.Cleanup(func() { prometheus.DefaultRegisterer = old })
	return reg
}

// deadAddress returns a loopback address nobody listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// unsafeString returns a string sharing b's memory.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// scrapeServed scrapes url until the master side has observed total calls
// (capabilities aside), and returns that scrape. A master observes a call
// once its handler has returned, which may be just after the slave got its
// answer.
func scrapeServed(t *testing.T, url, name string, total uint64) scraped {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := scrape(t, url)
		var n uint64
		for _, m := range got.families[name].GetMetric() {
			if labels(m)["rpc_method"] != "capabilities" {
				n += m.GetHistogram().GetSampleCount()
			}
		}
		if n >= total || time.Now().After(deadline) {
			return got
		}
		time.Sleep(time.Millisecond)
	}
}
