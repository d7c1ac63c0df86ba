// Package transport holds the dialers and listeners FastRpc runs over:
// plain TCP, unix sockets for same-host calls, and TLS (1.2 or later) with
// optional mutual authentication. Each is a module, chosen by name from a
// JSON config or built from code:
//
//	dialer.tcp     TCPDialer     a slave's Config.Dialer
//	dialer.unix    UnixDialer
//	dialer.tls     TLSDialer
//	listener.tcp   TCPListener   what a master serves (Listener)
//	listener.unix  UnixListener
//	listener.tls   TLSListener
//
// A dialer implements conn.Dialer; a listener implements conn.Listener, which
// opens the net.Listener that master.Serve takes. From JSON, through a
// module.Loader that cleans them up (a unix listener's Cleanup removes its
// socket file), or in a master's or a slave's FromJSON config:
//
//	loader := module.NewLoader(ctx)
//	defer loader.Cleanup()
//	d, err := module.LoadAs[conn.Dialer](loader, module.NamespaceDialer, []byte(`{"module": "unix"}`))
//	l, err := module.LoadAs[conn.Listener](loader, module.NamespaceListener, []byte(`{"module": "unix", "path": "/run/app.sock"}`))
//
// Loading reads certificate files once and checks the config; errors name
// the offending field. From code, fill the struct and use it as is.
//
// With mutual TLS, a handler reads the caller's verified certificate with
// PeerIdentity(op.NetConn()).
//
// The package only opens connections: the FastRpc protocol, timeouts per
// call, pooling and authorization decisions live in packages conn, master,
// slave and middleware. It is not a general TLS toolkit either: there is
// no certificate reloading, OCSP or ACME; a deployment that needs them
// builds its own *tls.Config and passes it as TLSConfig.
package transport
