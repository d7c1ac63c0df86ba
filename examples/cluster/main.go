// Command cluster runs FastRpc with many masters in one go, on loopback:
// an embedded etcd, three masters (child processes of this program) that
// register in it, and one cluster client calling them from 8 goroutines.
// It prints a live line of each master's answers while it kills one
// master with SIGKILL and starts it again, then a summary.
//
//	go run ./examples/cluster
//
// The killed master's calls go to the others at once (the client ejects
// it at its first failed call, and its etcd lease expires a few seconds
// later); the restarted master registers under a new port and takes its
// share again. "who" is registered as idempotent, so a call that was in
// flight on the killed master is sent to another one and no caller sees
// an error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/fastrpcetcd"
	"github.com/AmanTrance/FastRpc/fastrpcetcd/etcdtest"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

const service = "demo"

func main() {
	name := flag.String("master", "", "run as the master `name` (used by the program itself)")
	etcdURL := flag.String("etcd", "", "etcd client `URL`, for -master")
	duration := flag.Duration("duration", 15*time.Second, "how long to run")
	flag.Parse()
	if *name != "" {
		if err := runMaster(*name, *etcdURL); err != nil {
			log.Fatalf("master %s: %v", *name, err)
		}
		return
	}
	if err := run(*duration); err != nil {
		log.Fatal(err)
	}
}

// runMaster serves "who" until its stdin closes (the parent is gone) or
// SIGTERM, registered in etcd under service.
func runMaster(name, etcdURL string) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	reg := &fastrpcetcd.Registry{Endpoints: []string{etcdURL}, Service: service, TTL: module.Duration(2 * time.Second), Logger: logger}
	defer func() { _ = reg.Close() }()
	m := master.New(master.Config{Registry: reg, Logger: logger})
	err := m.Register("who", master.MethodInfo{Description: "answers with the master's name", Idempotent: true}, func(op *master.IOOperator) error {
		time.Sleep(100 * time.Microsecond) // some work, so that calls are in flight when it dies
		return op.WriteIOFromBuffer([]byte(name))
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve(context.Background(), ln) }()
	fmt.Printf("addr %s\n", ln.Addr())

	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, os.Interrupt)
	gone := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(gone) }()
	select {
	case <-term:
	case <-gone:
	case err := <-served:
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.Shutdown(ctx)
}

// child is a master process.
type child struct {
	name, addr string
	cmd        *exec.Cmd
	stdin      io.Closer
}

func startMaster(name, etcdURL string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-master", name, "-etcd", etcdURL)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "addr "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return &child{name: name, addr: a, cmd: cmd, stdin: stdin}, nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("master %s did not start", name)
	}
}

// stop ends the master gracefully, or kills it if kill is set.
func (c *child) stop(kill bool) {
	if kill {
		_ = c.cmd.Process.Kill()
	} else {
		_ = c.stdin.Close()
	}
	_ = c.cmd.Wait()
}

// counts are the answers per master name.
type counts struct {
	mu     sync.Mutex
	byName map[string]int64
	errs   atomic.Int64
}

func (c *counts) add(name string) {
	c.mu.Lock()
	c.byName[name]++
	c.mu.Unlock()
}

func (c *counts) line(names []string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %s %7d", n, c.byName[n])
	}
	fmt.Fprintf(&b, "  errors %d", c.errs.Load())
	return b.String()
}

func run(duration time.Duration) error {
	dir, err := os.MkdirTemp("", "fastrpc-cluster-etcd-")
	if err != nil {
		return err
	}
	etcd, err := etcdtest.New(dir)
	if err != nil {
		return err
	}
	defer func() { _ = etcd.Remove() }()
	fmt.Printf("etcd on %s\n", etcd.URL())

	names := []string{"a", "b", "c"}
	masters := map[string]*child{}
	defer func() {
		for _, m := range masters {
			m.stop(false)
		}
	}()
	for _, n := range names {
		m, err := startMaster(n, etcd.URL())
		if err != nil {
			return err
		}
		masters[n] = m
		fmt.Printf("master %s on %s\n", n, m.addr)
	}

	cl, err := cluster.New(cluster.Config{
		Resolver: &fastrpcetcd.Resolver{Endpoints: []string{etcd.URL()}, Service: service},
		Balancer: cluster.LeastLoaded{},
		Slave:    slave.Config{PoolSize: 4},
	})
	if err != nil {
		return err
	}
	defer func() { _ = cl.Close() }()
	if err := waitMembers(cl, 3); err != nil {
		return err
	}

	total := &counts{byName: map[string]int64{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				out, err := cl.Call(ctx, "who", nil)
				cancel()
				if err != nil {
					total.errs.Add(1)
					log.Printf("call failed: %v", err)
					continue
				}
				total.add(string(out))
			}
		}()
	}

	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt, syscall.SIGTERM)
	fi, _ := os.Stdout.Stat()
	live := fi != nil && fi.Mode()&os.ModeCharDevice != 0
	every := time.Second
	if live {
		every = 200 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	start := time.Now()
	killAt, restartAt := duration*4/15, duration*9/15
	event := ""
	print := func() {
		line := fmt.Sprintf("%5.1fs%s  %s", time.Since(start).Seconds(), total.line(names), event)
		if live {
			fmt.Printf("\r%-100s", line)
		} else {
			fmt.Println(line)
		}
	}
loop:
	for {
		select {
		case <-interrupt:
			break loop
		case <-tick.C:
		}
		el := time.Since(start)
		switch {
		case el >= duration:
			break loop
		case el >= restartAt && masters["b"].cmd.ProcessState != nil:
			m, err := startMaster("b", etcd.URL())
			if err != nil {
				return err
			}
			masters["b"] = m
			event = "b restarted on " + m.addr
			if live {
				fmt.Println()
			}
		case el >= killAt && el < restartAt && masters["b"].cmd.ProcessState == nil:
			masters["b"].stop(true)
			event = "b killed (SIGKILL)"
			if live {
				fmt.Println()
			}
		}
		print()
	}
	close(stop)
	wg.Wait()
	print()
	if live {
		fmt.Println()
	}

	fmt.Println("\nper master, as the client saw them:")
	for _, m := range cl.Members() {
		fmt.Printf("  %-21s %7d calls sent  ejected %v\n", m.Address, m.Calls, m.Ejected)
	}
	fmt.Printf("answers: %s\n", total.line(names))
	if n := total.errs.Load(); n > 0 {
		return fmt.Errorf("%d calls failed", n)
	}
	return nil
}

// waitMembers waits until the client knows n masters.
func waitMembers(cl *cluster.Client, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for len(cl.Members()) < n {
		if time.Now().After(deadline) {
			return errors.New("the masters did not register in etcd within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
