package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
)

var serveCommand = &command{
	name:    "serve",
	summary: "run a demo master to try the other commands on",
	details: `
Runs a master with demo methods, one of each kind:

  echo     raw bytes: answers its request unchanged (streamed, any size)
  sha256   raw bytes: the hex SHA-256 of its request (streamed, any size)
  add      msgpack: {"a": 1, "b": 2} -> {"sum": 3}
  stats    cbor: {"values": [1, 2.5, 4]} -> count, sum, mean, min, max
  greet    json: {"name": "Ada"} -> {"greeting": "hello, Ada"}
  slow     answers after the duration its request names (default 5s)
  stream   answers as many bytes as its request names (default 1MiB)

Its first line on stderr is "listening on HOST:PORT" (with the port picked
when --addr has port 0). SIGINT (Ctrl-C) or SIGTERM shuts it down
gracefully: calls in flight get up to 10s to finish, then it exits with
status 0; a second signal stops it at once. Errors the master logs
(protocol violations, refused connections) go to stderr. It listens on
loopback unless --addr says otherwise: it is a demo, not a server to expose.
Exit status: 0 after a shutdown, 2 for bad flags, 3 when it cannot listen.`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		addr := fs.String("addr", "127.0.0.1:10000", "listen on `HOST:PORT`; port 0 picks a free port")
		logCalls := fs.Bool("log", false, "log every call (method, remote address, duration, sizes, status) to stderr")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) > 0 {
				return usageErrorf("serve: unexpected argument %q; it takes flags only (--addr HOST:PORT)", args[0])
			}
			return serve(ctx, std, *addr, *logCalls)
		}
	},
}

func serve(ctx context.Context, std *stdio, addr string, logCalls bool) error {
	if err := checkHostPort(addr); err != nil {
		return err
	}
	// The master's logger and this function write to stderr from several
	// goroutines.
	errOut := &lockedWriter{w: std.errOut}
	logger := slog.New(slog.NewTextHandler(errOut, nil))
	cfg := master.Config{Logger: logger}
	if logCalls {
		cfg.Middleware = []master.Middleware{(&middleware.Logging{Logger: logger}).WrapHandler}
	}
	m := master.New(cfg)
	if err := registerDemo(m); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return callErrorf("cannot listen on %s: %v", addr, unwrapOp(err))
	}
	at := ln.Addr().String()
	var names []string
	for _, c := range m.Capabilities() {
		if c.Name != "capabilities" {
			names = append(names, c.Name)
		}
	}
	fmt.Fprintf(errOut, "listening on %s\n", at)
	fmt.Fprintf(errOut, "methods: %s; try: fastrpc caps %s\n", strings.Join(names, ", "), at)
	fmt.Fprintf(errOut, "stop with Ctrl-C\n")

	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx, ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		fmt.Fprintf(errOut, "shutting down: calls in flight get up to %v to finish\n", master.DefaultShutdownTimeout)
		err = <-served
	}
	if err != nil {
		return callErrorf("serving %s: %v", at, err)
	}
	fmt.Fprintln(errOut, "stopped")
	return nil
}

// unwrapOp shows a *net.OpError without its "listen tcp ADDR:" preamble,
// which the message already says.
func unwrapOp(err error) error {
	if oe, ok := err.(*net.OpError); ok && oe.Err != nil {
		return oe.Err
	}
	return err
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
