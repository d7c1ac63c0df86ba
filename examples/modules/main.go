// Command modules builds FastRpc masters and slaves from JSON files that
// name their modules, the way a deployment would configure them:
//
//   - over a unix socket (config/master-unix.json, config/slave-unix.json),
//     with a typed method whose codec, gob, is a module registered by this
//     program (gobcodec.go) rather than by FastRpc;
//   - over mutual TLS (config/master-mtls.json, config/slave-mtls.json),
//     where the master sees the caller's verified certificate and the
//     authorize middleware refuses what that identity may not call.
//
// The certificates are made at start-up with crypto/x509 (certs.go) into a
// temporary directory, which the configs refer to as {{dir}}. Everything
// runs in this process, on a unix socket and 127.0.0.1. Run it with:
//
//	go run ./examples/modules
package main

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/module"
	_ "github.com/AmanTrance/FastRpc/poolimpl/puddle" // "pool.puddle", named in config/slave-mtls.json
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/transport"
	"github.com/AmanTrance/FastRpc/typed"
)

// Importing a package registers its modules (from its init functions):
// here transport's listener.* and dialer.*, and middleware's
// master.middleware.* and slave.middleware.*.
// This program also uses those packages by name; one that only loads their
// modules from JSON imports them blank:
//
//	import _ "github.com/AmanTrance/FastRpc/transport"

//go:embed config/*.json
var configs embed.FS

// The stock service's types, sent with the gob codec. gob needs exported
// fields and no tags.
type (
	ReserveReq struct {
		SKU string
		Qty int
	}
	Reservation struct {
		SKU  string
		Qty  int
		Left int
	}
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "modules:", err)
		os.Exit(1)
	}
}

func run() error {
	// The logging and recover modules log to slog.Default() (a JSON config
	// cannot carry a *slog.Logger). Collect their records, without times,
	// and print them once each master has stopped, so they do not
	// interleave with this program's own lines.
	slog.SetDefault(slog.New(slog.NewTextHandler(&serverLog, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})))

	printModules()

	dir, err := os.MkdirTemp("", "fastrpc-modules-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeCerts(dir); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	fmt.Printf("\ncertificates made with crypto/x509 in %s ({{dir}} in the configs):\n", dir)
	fmt.Println("  ca.pem, master.pem + master.key (127.0.0.1, localhost), billing.pem + billing.key (CN billing)")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := overUnix(ctx, dir); err != nil {
		return fmt.Errorf("unix socket: %w", err)
	}
	if err := overMutualTLS(ctx, dir); err != nil {
		return fmt.Errorf("mutual TLS: %w", err)
	}

	fmt.Println("\nmaster.middleware.metrics, both masters (middleware.NamedCounters(\"\")):")
	for _, st := range middleware.NamedCounters("").Snapshot() {
		fmt.Printf("  %-14s calls %d, errors %d\n", st.Method, st.Calls, st.Errors)
	}
	fmt.Println("\ndone; temporary directory removed")
	return nil
}

// printModules lists every registered module, grouped by namespace.
func printModules() {
	fmt.Println("registered modules (module.All), by namespace:")
	var order []string
	byNS := map[string][]string{}
	for _, info := range module.All() {
		ns, name := info.ID.Namespace(), info.ID.Name()
		if info.ID == (gobCodec{}).FastRpcModule().ID {
			name += " (this program)"
		}
		if byNS[ns] == nil {
			order = append(order, ns)
		}
		byNS[ns] = append(byNS[ns], name)
	}
	for _, ns := range order {
		fmt.Printf("  %-18s %s\n", ns+":", strings.Join(byNS[ns], ", "))
	}
}

// overUnix serves a stock service over a unix socket and calls it with the
// gob codec.
func overUnix(ctx context.Context, dir string) error {
	fmt.Println("\n== 1. unix socket: config/master-unix.json, config/slave-unix.json")
	cfg, err := loadConfig("master-unix.json", map[string]string{"dir": dir})
	if err != nil {
		return err
	}
	m, err := master.FromJSON(ctx, cfg)
	if err != nil {
		return err
	}
	gobc, err := codec.Lookup("gob") // the module registered in gobcodec.go
	if err != nil {
		return err
	}
	var mu sync.Mutex
	stock := map[string]int{"apple": 5}
	err = typed.Register(m, "stock.reserve", gobc, func(_ context.Context, r ReserveReq) (Reservation, error) {
		mu.Lock()
		defer mu.Unlock()
		if stock[r.SKU] < r.Qty {
			return Reservation{}, typed.Errorf(409, "only %d %s left", stock[r.SKU], r.SKU)
		}
		stock[r.SKU] -= r.Qty
		return Reservation{SKU: r.SKU, Qty: r.Qty, Left: stock[r.SKU]}, nil
	}, typed.WithDescription("reserves stock"))
	if err != nil {
		return err
	}
	sock := filepath.Join(dir, "stock.sock")
	stop, _, err := runMaster(ctx, m)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("master: serving unix socket %s\n", sock)

	cfg, err = loadConfig("slave-unix.json", map[string]string{"dir": dir})
	if err != nil {
		return err
	}
	s, err := slave.FromJSON(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()

	caps, err := s.Capabilities(ctx)
	if err != nil {
		return err
	}
	fmt.Println("slave: the master's capabilities:")
	for _, c := range caps.Methods {
		fmt.Printf("  %-13s in %-4s out %-23s %s\n", c.Name, cmp.Or(c.IncomingEncoding, "-"), c.ReturningEncoding, c.Description)
	}

	// typed.Call reads the encoding the master advertises, "gob", and
	// finds the codec module of that name.
	r, err := typed.Call[ReserveReq, Reservation](ctx, s, "stock.reserve", ReserveReq{SKU: "apple", Qty: 3})
	if err != nil {
		return err
	}
	fmt.Printf("slave: stock.reserve {apple 3} (gob) -> reserved %d %s, %d left\n", r.Qty, r.SKU, r.Left)
	_, err = typed.Call[ReserveReq, Reservation](ctx, s, "stock.reserve", ReserveReq{SKU: "apple", Qty: 3})
	var te *typed.Error
	if !errors.As(err, &te) {
		return fmt.Errorf("stock.reserve: want an application error, got %v", err)
	}
	fmt.Printf("slave: stock.reserve {apple 3} (gob) -> error code %d: %s\n", te.Code(), te.Message)

	if err := s.Close(); err != nil {
		return err
	}
	if err := stop(); err != nil {
		return err
	}
	_, statErr := os.Stat(filepath.Join(dir, "stock.sock"))
	fmt.Printf("master: stopped; socket file removed: %v\n", errors.Is(statErr, os.ErrNotExist))
	printServerLog("master.middleware.logging on the master")
	return nil
}

// overMutualTLS serves over mutual TLS: the handler reads the caller's
// verified identity, and master.middleware.authorize decides who may call
// what.
func overMutualTLS(ctx context.Context, dir string) error {
	fmt.Println("\n== 2. mutual TLS: config/master-mtls.json, config/slave-mtls.json")
	// The master listens on port 0, a free port; Addrs tells which, and
	// the slave's config gets it as {{addr}}.
	cfg, err := loadConfig("master-mtls.json", map[string]string{"dir": dir})
	if err != nil {
		return err
	}
	m, err := master.FromJSON(ctx, cfg)
	if err != nil {
		return err
	}
	err = m.Register("whoami", master.MethodInfo{Description: "the caller's verified certificate", ReturningEncoding: "text/plain"},
		func(op *master.IOOperator) error {
			id, ok := transport.PeerIdentity(op.NetConn())
			if !ok {
				return op.WriteError("no verified client certificate")
			}
			issuer := id.Chain[len(id.Chain)-1].Subject.CommonName
			return op.WriteIOFromBuffer(fmt.Appendf(nil, "CN=%s, issued by %q", id.CommonName, issuer))
		})
	if err != nil {
		return err
	}
	err = m.Register("ledger.reset", master.MethodInfo{Description: "only ops may call it"}, func(op *master.IOOperator) error {
		return op.WriteIOFromBuffer([]byte("ledger reset"))
	})
	if err != nil {
		return err
	}
	stop, addr, err := runMaster(ctx, m)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("master: serving TLS on %s, client certificates required\n", addr)

	cfg, err = loadConfig("slave-mtls.json", map[string]string{"dir": dir, "addr": addr})
	if err != nil {
		return err
	}
	s, err := slave.FromJSON(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()

	who, err := s.Call(ctx, "whoami", nil)
	if err != nil {
		return err
	}
	fmt.Printf("slave: whoami -> the master verified the caller as %s\n", who)

	_, err = s.Call(ctx, "ledger.reset", nil)
	if !errors.Is(err, slave.ErrPermissionDenied) {
		return fmt.Errorf("ledger.reset: want permission denied, got %v", err)
	}
	fmt.Printf("slave: ledger.reset -> refused by master.middleware.authorize (slave.ErrPermissionDenied): %v\n", err)

	// The same dialer module built from code instead of JSON, trusting the
	// CA but holding no client certificate: the master refuses it during
	// the handshake and goes on serving the others.
	anon, err := slave.New(slave.Config{
		Address:  addr,
		Dialer:   &transport.TLSDialer{CAFile: filepath.Join(dir, "ca.pem"), MinVersion: "1.3"},
		PoolSize: 1,
	})
	if err != nil {
		return err
	}
	_, err = anon.Call(ctx, "whoami", nil)
	_ = anon.Close()
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		return fmt.Errorf("a slave without a client certificate: want certificate required, got %v", err)
	}
	fmt.Printf("slave without a client certificate: whoami -> refused: %v\n", err)
	if _, err := s.Call(ctx, "whoami", nil); err != nil {
		return fmt.Errorf("the master stopped serving billing: %w", err)
	}
	fmt.Println("slave: whoami again -> still served")

	if err := s.Close(); err != nil {
		return err
	}
	if err := stop(); err != nil {
		return err
	}
	fmt.Println("master: stopped")
	printServerLog("slave.middleware.logging on the slave")
	return nil
}

// runMaster runs m's configured listener until stop is called, and
// returns once the master serves it, with its address.
func runMaster(ctx context.Context, m *master.Master) (stop func() error, addr string, err error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	for {
		if addrs := m.Addrs(); len(addrs) > 0 {
			return stop, addrs[0].String(), nil
		}
		select {
		case err := <-done: // Run failed before serving: a listener could not open
			cancel()
			return nil, "", err
		case <-ctx.Done():
			_ = stop()
			return nil, "", ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// loadConfig reads an embedded config and replaces each {{key}} with its
// value, escaped as JSON string content.
func loadConfig(name string, vars map[string]string) ([]byte, error) {
	data, err := configs.ReadFile("config/" + name)
	if err != nil {
		return nil, err
	}
	for k, v := range vars {
		quoted, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		data = bytes.ReplaceAll(data, []byte("{{"+k+"}}"), quoted[1:len(quoted)-1])
	}
	return data, nil
}

// serverLog collects what slog.Default() is given.
var serverLog syncBuffer

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// printServerLog prints and empties serverLog.
func printServerLog(title string) {
	serverLog.mu.Lock()
	text := strings.TrimSpace(serverLog.buf.String())
	serverLog.buf.Reset()
	serverLog.mu.Unlock()
	if text == "" {
		return
	}
	fmt.Println(title + ":")
	for line := range strings.Lines(text) {
		fmt.Print("  ", line)
	}
	fmt.Println()
}
