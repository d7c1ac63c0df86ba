package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// masterFarmEnv makes the test binary a process serving that many
// masters on loopback (see TestMain), so that their memory is not
// counted with the client's.
const masterFarmEnv = "FASTRPC_TEST_MASTER_FARM"

func TestMain(m *testing.M) {
	if n, _ := strconv.Atoi(os.Getenv(masterFarmEnv)); n > 0 {
		serveFarm(n)
		return
	}
	os.Exit(m.Run())
}

// serveFarm serves n masters answering "who", prints their addresses one
// per line, and exits when stdin closes (the parent went away).
func serveFarm(n int) {
	var ms []*master.Master
	for range n {
		m := master.New(master.Config{})
		if err := m.Register("who", master.MethodInfo{}, func(op *master.IOOperator) error {
			return op.WriteIOFromBuffer([]byte("farm"))
		}); err != nil {
			panic(err)
		}
		ms = append(ms, m)
		go func() { _ = m.ListenAndServe(context.Background(), "127.0.0.1:0") }()
	}
	for _, m := range ms {
		for len(m.Addrs()) == 0 {
			time.Sleep(time.Millisecond)
		}
		fmt.Println(m.Addrs()[0].String())
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString(0) // until EOF
}

// startFarm runs n masters in a child process and returns their
// addresses; the child ends with the benchmark.
func startFarm(b *testing.B, n int) []string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), masterFarmEnv+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	var addrs []string
	for len(addrs) < n && sc.Scan() {
		if a := strings.TrimSpace(sc.Text()); strings.HasPrefix(a, "127.0.0.1:") {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) < n {
		b.Fatalf("the master farm reported %d of %d addresses: %v", len(addrs), n, sc.Err())
	}
	return addrs
}

// heap returns the live heap after a full collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemoryPerMaster reports the heap a client holds per master
// once each has served calls: a member, its slave, its pool, one open
// connection with its buffers (PoolSize 1, the default 16 KiB read and
// write buffers) and the cached method list. The masters run in a child
// process, so only the client's memory counts.
func BenchmarkMemoryPerMaster(b *testing.B) {
	const n = 200
	addrs := startFarm(b, n)
	for b.Loop() {
		base := heap()
		c, err := cluster.New(cluster.Config{Resolver: &cluster.Static{Addresses: addrs}, Slave: slave.Config{PoolSize: 1}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for range 2 * n { // round robin: every master gets two calls
			if _, err := c.Call(ctx, "who", nil); err != nil {
				b.Fatal(err)
			}
		}
		cancel()
		for _, m := range c.Members() {
			if m.Calls == 0 {
				b.Fatalf("master %s got no call", m.Address)
			}
		}
		time.Sleep(100 * time.Millisecond) // background capabilities fetches end
		b.ReportMetric(float64(heap()-base)/n, "B/master")
		_ = c.Close()
	}
}
