// Command pools runs a FastRpc master and two slaves calling it, one with
// the builtin mutex pool, set in code, and one with the puddle pool, named
// in a JSON config; it makes the same concurrent calls through each, and
// prints both pools' stats. Run it with:
//
//	go run ./examples/pools
package main

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/poolimpl"
	// Registers the "pool.puddle" module, which the JSON config below
	// names; a program that builds its pool in code calls puddle.Factory
	// instead. Only programs importing it link jackc/puddle.
	_ "github.com/AmanTrance/FastRpc/poolimpl/puddle"
	"github.com/AmanTrance/FastRpc/slave"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	m := master.New(master.Config{})
	err := m.Register("reverse", master.MethodInfo{Description: "reverses its request"}, func(op *master.IOOperator) error {
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return op.WriteIOFromBuffer(b)
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx, ln) }()
	defer func() {
		_ = m.Close()
		<-served
	}()

	// Swapping the pool is one line of slave.Config. The builtin mutex
	// pool is the default (Pool: nil); this one also keeps a connection
	// warm.
	mutexSlave, err := slave.New(slave.Config{
		Address:  addr.String(),
		PoolSize: 4,
		Pool:     poolimpl.Mutex(poolimpl.Options{MinIdle: 1}),
	})
	if err != nil {
		return err
	}
	defer mutexSlave.Close()

	// The puddle pool, named in a slave's JSON config as a config file
	// would: its fields are poolimpl.Options'.
	puddleSlave, err := slave.FromJSON(ctx, fmt.Appendf(nil, `{
		"address": %q,
		"pool": {"module": "puddle", "min_idle": 1, "idle_timeout": "90s"},
		"pool_size": 4
	}`, addr))
	if err != nil {
		return err
	}
	defer puddleSlave.Close()

	fmt.Printf("master on %s; 64 callers x 20 calls through a pool of 4, per slave\n\n", addr)
	for _, s := range []struct {
		name  string
		slave *slave.Slave
	}{{"mutex", mutexSlave}, {"puddle", puddleSlave}} {
		start := time.Now()
		if err := hammer(ctx, s.slave, 64, 20); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Printf("%-6s  %v\n", s.name, time.Since(start).Round(time.Millisecond))
		printStats(s.slave.PoolStats())
		fmt.Println()
	}
	return nil
}

// hammer makes calls from goroutines at once and checks every answer.
func hammer(ctx context.Context, s *slave.Slave, goroutines, calls int) error {
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst []byte
			for i := range calls {
				req := fmt.Appendf(nil, "caller %02d call %02d", g, i)
				var err error
				dst, err = s.CallAppend(ctx, "reverse", req, dst[:0])
				if err != nil {
					errs <- err
					return
				}
				for k := range req {
					if dst[k] != req[len(req)-1-k] {
						errs <- fmt.Errorf("wrong answer %q to %q", dst, req)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func printStats(st poolimpl.Stats) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "  open %d (idle %d, in use %d), waiting %d\n", st.Open, st.Idle, st.InUse, st.Waiting)
	fmt.Fprintf(&b, "  acquires %d, of which waited %d (%v in total)\n", st.Acquires, st.Waits, st.WaitTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "  dials %d, failed %d; stale closed %d, expired %d\n", st.Dials, st.DialErrors, st.Stale, st.Expired)
	fmt.Print(b.String())
}
