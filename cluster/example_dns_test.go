package cluster_test

import (
	"context"
	"log"
	"time"

	"github.com/AmanTrance/FastRpc/cluster"
)

// A client over the masters of a Kubernetes headless service, from JSON:
// its SRV records give every master's port and weight, looked up again
// every 10 seconds and whenever the client leaves out a master whose
// dials fail. Here the DNS server asked is one on loopback; leave
// "server" out to ask the system's (resolv.conf).
func ExampleDNS() {
	c, err := cluster.FromJSON(context.Background(), []byte(`{
		"resolver": {
			"module": "dns",
			"name": "_fastrpc._tcp.orders.default.svc.cluster.local.",
			"srv": true,
			"server": "127.0.0.1:5353",
			"interval": "10s"
		},
		"balancer": {"module": "round_robin"},
		"idempotent": ["get"]
	}`))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Calls wait for the first answer, within their context.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Call(ctx, "get", []byte("order-42")); err != nil {
		log.Print(err)
	}
}

// The A and AAAA records of a name: every address is a master, on the
// port given with the name.
func ExampleDNS_addresses() {
	r := &cluster.DNS{Name: "orders.default.svc.cluster.local.:10000", Server: "127.0.0.1:5353"}
	c, err := cluster.New(cluster.Config{Resolver: r})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}
