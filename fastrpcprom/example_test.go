package fastrpcprom_test

import (
	"context"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/AmanTrance/FastRpc/fastrpcprom"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// Both sides' metrics in one registry, exposed by the application's own
// HTTP server.
func Example() {
	reg := prometheus.NewRegistry()
	sm, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{})
	if err != nil {
		log.Fatal(err)
	}
	m := master.New(master.Config{Middleware: []master.Middleware{sm.WrapHandler}})
	defer m.Close()

	cm, err := fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{})
	if err != nil {
		log.Fatal(err)
	}
	s, err := slave.New(slave.Config{Address: "127.0.0.1:10000", Middleware: []slave.Middleware{cm.WrapCall}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// fastrpcprom serves nothing itself: mount promhttp where you like.
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go func() { log.Fatal(http.ListenAndServe("127.0.0.1:9090", nil)) }()
	go func() { log.Fatal(m.ListenAndServe(context.Background(), "127.0.0.1:10000")) }()
}

// The modules in JSON configs register with prometheus.DefaultRegisterer,
// which promhttp.Handler serves.
func Example_json() {
	m, err := master.FromJSON(context.Background(), []byte(`{
	  "listeners": [{"module": "tcp", "address": "127.0.0.1:10000"}],
	  "middleware": [{"module": "recover"}, {"module": "prometheus"}]
	}`))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	http.Handle("/metrics", promhttp.Handler())
}
