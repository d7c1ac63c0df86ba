package transport_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/transport"
)

// A master and a slave on the same host, talking over a unix socket, with
// both ends chosen by name from JSON.
func Example_unixFromJSON() {
	dir, err := os.MkdirTemp("", "fastrpc")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rpc.sock")
	ctx := context.Background()

	// One Loader for this program's modules; its Cleanup releases them
	// (here, removes the socket file).
	loader := module.NewLoader(ctx)
	defer loader.Cleanup()

	// The master's side: a listener module.
	l, err := module.LoadAs[conn.Listener](loader, module.NamespaceListener,
		[]byte(fmt.Sprintf(`{"module": "unix", "path": %q, "mode": "0600", "remove_stale": true}`, path)))
	if err != nil {
		log.Fatal(err)
	}
	ln, err := l.Listen(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m := master.New(master.Config{})
	_ = m.Register("hello", master.MethodInfo{}, func(op *master.IOOperator) error {
		return op.WriteIOFromBuffer([]byte("hello over " + op.NetConn().LocalAddr().Network()))
	})
	go m.Serve(ctx, ln)
	defer m.Close()

	// The slave's side: a dialer module; the address is the socket's path.
	d, err := module.LoadAs[conn.Dialer](loader, module.NamespaceDialer, []byte(`{"module": "unix", "timeout": "1s"}`))
	if err != nil {
		log.Fatal(err)
	}
	s, err := slave.New(slave.Config{Address: path, Dialer: d})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	resp, err := s.Call(ctx, "hello", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(resp))
	// Output: hello over unix
}

// A slave over mutual TLS, configured from code: the CA that signed the
// master's certificate, and the slave's own certificate for a master that
// requires one. The files are read on first use.
func ExampleTLSDialer() {
	s, err := slave.New(slave.Config{
		Address: "rpc.internal:10443",
		Dialer: &transport.TLSDialer{
			CAFile:   "/etc/fastrpc/ca.pem",
			CertFile: "/etc/fastrpc/billing.pem",
			KeyFile:  "/etc/fastrpc/billing.key",
			// ServerName defaults to the host dialled, "rpc.internal".
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
}

// With a *tls.Config built by the application (certificates from a secret
// store, say), TLSConfig takes the place of the file fields.
func ExampleTLSDialer_tlsConfig() {
	roots := x509.NewCertPool() // filled by the application
	client := tls.Certificate{} // likewise
	d := &transport.TLSDialer{
		TLSConfig:  &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{client}},
		MinVersion: "1.3",
	}
	_, _ = slave.New(slave.Config{Address: "10.0.0.7:10443", Dialer: d})
}

// A master requiring mutual TLS, from a JSON config, whose handler reads
// the caller's verified identity to decide what it may do.
func ExampleTLSListener() {
	ctx := context.Background()
	loader := module.NewLoader(ctx)
	defer loader.Cleanup()
	l, err := module.LoadAs[conn.Listener](loader, module.NamespaceListener, []byte(`{
		"module": "tls",
		"address": "0.0.0.0:10443",
		"cert_file": "/etc/fastrpc/server.pem",
		"key_file": "/etc/fastrpc/server.key",
		"client_ca_file": "/etc/fastrpc/clients-ca.pem",
		"client_auth": "require"
	}`))
	if err != nil {
		log.Fatal(err) // names the field at fault, or the file that could not be read
	}
	m := master.New(master.Config{Listeners: []conn.Listener{l}})
	_ = m.Register("balance", master.MethodInfo{}, func(op *master.IOOperator) error {
		id, ok := transport.PeerIdentity(op.NetConn())
		if !ok || id.CommonName != "billing" {
			return op.WriteError("only billing may ask")
		}
		return op.WriteIOFromBuffer([]byte("42"))
	})
	log.Fatal(m.Run(ctx))
}

// PeerIdentity in a handler: who is calling, as their certificate says.
func ExamplePeerIdentity() {
	handler := func(op *master.IOOperator) error {
		id, ok := transport.PeerIdentity(op.NetConn())
		if !ok {
			return op.WriteError("mutual TLS required")
		}
		for _, u := range id.URIs { // SPIFFE IDs, for example
			if u.String() == "spiffe://example.org/billing" {
				return op.WriteNothing()
			}
		}
		return fmt.Errorf("%s may not call %s", id.CommonName, op.Method())
	}
	_ = handler
}
