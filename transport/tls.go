package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/AmanTrance/FastRpc/module"
)

// TLSDialer is the "dialer.tls" module: TCP with TLS 1.2 or later,
// verifying the master's certificate, and presenting a client certificate
// for mutual TLS if given one. From JSON:
//
//	{"module": "tls", "ca_file": "ca.pem", "cert_file": "client.pem",
//	 "key_file": "client.key", "server_name": "rpc.internal", "min_version": "1.3"}
//
// From code, set the same fields, or TLSConfig instead of the file fields.
// Certificate verification cannot be turned off from JSON.
//
// The files are read once, by Provision (module.LoadAs calls it) or else by
// the first dial; replacing them on disk takes a new TLSDialer.
type TLSDialer struct {
	// Timeout bounds connecting and the TLS handshake. 0 leaves the bound
	// to the caller's context (the slave's DialTimeout).
	Timeout module.Duration `json:"timeout,omitempty"`
	// KeepAlive is the TCP keep-alive period. 0 means conn.DefaultKeepAlive; a
	// negative value turns keep-alive probes off.
	KeepAlive module.Duration `json:"keep_alive,omitempty"`
	// CAFile holds the PEM certificates of the CAs trusted to sign the
	// master's certificate. Empty means the system's roots.
	CAFile string `json:"ca_file,omitempty"`
	// CertFile and KeyFile hold the client's PEM certificate chain and
	// key, for masters that require mutual TLS. Set both or neither.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// ServerName is the name the master's certificate must hold. Empty
	// means the host of the address dialled (an IP address must then be
	// in the certificate's IP SANs).
	ServerName string `json:"server_name,omitempty"`
	// MinVersion is "1.2" (the default) or "1.3".
	MinVersion string `json:"min_version,omitempty"`

	// TLSConfig, set from code, replaces CAFile, CertFile and KeyFile: it
	// is used as given (cloned), except that ServerName and MinVersion
	// still apply on top and the minimum version is never below TLS 1.2.
	TLSConfig *tls.Config `json:"-"`

	mu  sync.Mutex
	cfg *tls.Config
}

// FastRpcModule implements module.Module.
func (*TLSDialer) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceDialer + ".tls", New: func() module.Module { return new(TLSDialer) }}
}

func (d *TLSDialer) check() error {
	if _, err := netDialer(d.Timeout, d.KeepAlive, ""); err != nil {
		return err
	}
	if _, err := parseVersion(d.MinVersion); err != nil {
		return err
	}
	if d.TLSConfig != nil && (d.CAFile != "" || d.CertFile != "" || d.KeyFile != "") {
		return errors.New("TLSConfig replaces ca_file, cert_file and key_file: set one or the other")
	}
	if (d.CertFile == "") != (d.KeyFile == "") {
		return errors.New("cert_file and key_file go together: set both for a client certificate, or neither")
	}
	return nil
}

// Validate implements module.Validator.
func (d *TLSDialer) Validate() error { return d.check() }

// Provision implements module.Provisioner: it reads the files and builds
// the tls.Config every dial uses. A config that does not pass Validate is
// left for Validate to report.
func (d *TLSDialer) Provision(context.Context) error {
	if d.check() != nil {
		return nil
	}
	_, err := d.config()
	return err
}

// config returns the tls.Config, building it on first use.
func (d *TLSDialer) config() (*tls.Config, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg != nil {
		return d.cfg, nil
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	var cfg *tls.Config
	if d.TLSConfig != nil {
		cfg = d.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
		if d.CAFile != "" {
			pool, err := loadPool("ca_file", d.CAFile)
			if err != nil {
				return nil, err
			}
			cfg.RootCAs = pool
		}
		if d.CertFile != "" {
			pair, err := tls.LoadX509KeyPair(d.CertFile, d.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("cert_file %q and key_file %q: %w", d.CertFile, d.KeyFile, err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
	}
	if d.ServerName != "" {
		cfg.ServerName = d.ServerName
	}
	v, _ := parseVersion(d.MinVersion)
	cfg.MinVersion = max(cfg.MinVersion, v)
	d.cfg = cfg
	return cfg, nil
}

// DialContext implements conn.Dialer: it connects over TCP and completes
// the TLS handshake, verifying the master's certificate, before returning
// the connection. Handshake failures are explained where the cause is
// recognisable (untrusted CA, wrong name, a master not speaking TLS).
//
// The connection is a thin wrapper of the *tls.Conn: its NetConn method
// returns the *tls.Conn, and it has the *tls.Conn's other methods
// (ConnectionState among them). In TLS 1.3 the master's verdict on the
// client certificate arrives after the handshake, as an alert read with
// the first response; the wrapper's Read returns such an alert with
// whether this dialer had a client certificate to offer, so that the
// slave's error can tell a missing certificate from one the master's CAs
// did not sign (which a Go client does not send at all).
func (d *TLSDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	network, err := checkTCPNetwork("dialer.tls", network)
	if err != nil {
		return nil, err
	}
	cfg, err := d.config()
	if err != nil {
		return nil, fmt.Errorf("dialer.tls: %w", err)
	}
	nd, _ := netDialer(d.Timeout, d.KeepAlive, "") // checked by config
	td := tls.Dialer{NetDialer: nd, Config: cfg}
	nc, err := td.DialContext(ctx, network, address)
	if err != nil {
		return nil, d.explain(err, address)
	}
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return nc, nil
	}
	return &tlsClientConn{Conn: tc, clientCert: len(cfg.Certificates) > 0 || cfg.GetClientCertificate != nil}, nil
}

// tlsClientConn is a slave's TLS connection; see TLSDialer.DialContext.
type tlsClientConn struct {
	*tls.Conn
	clientCert bool // the dialer had a client certificate to offer
}

// Read reads from the *tls.Conn. A TLS alert from the master comes back
// wrapped in a tlsAlertError.
func (c *tlsClientConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "remote error" {
			err = &tlsAlertError{err: err, clientCert: c.clientCert}
		}
	}
	return n, err
}

// NetConn returns the *tls.Conn.
func (c *tlsClientConn) NetConn() net.Conn { return c.Conn }

// tlsAlertError is a TLS alert the master sent after the handshake. Its
// text is the alert's, and it unwraps to crypto/tls's *net.OpError.
type tlsAlertError struct {
	err        error
	clientCert bool
}

func (e *tlsAlertError) Error() string { return e.err.Error() + e.hint() }
func (e *tlsAlertError) Unwrap() error { return e.err }

// hint explains an alert about this slave's certificate: in TLS 1.3 it
// arrives only when the slave reads the master's preface, after the
// handshake.
//
// A Go master says "certificate required" when the slave sent no
// certificate, and a Go slave sends none either when it has none or when
// the only ones it has are not signed by a CA the master names (the CAs
// it trusts); clientCert tells the two apart. A certificate that is sent
// and fails verification gets another alert.
func (e *tlsAlertError) hint() string {
	var oe *net.OpError
	if !errors.As(e.err, &oe) {
		return ""
	}
	switch oe.Err.Error() {
	case "tls: certificate required":
		if e.clientCert {
			return "; the master requires a client certificate, and this slave's is not signed by a CA the master trusts, so it sent none"
		}
		return "; the master requires a client certificate: set cert_file and key_file"
	case "tls: unknown certificate authority":
		return "; the master does not trust the CA that signed this slave's client certificate"
	case "tls: bad certificate":
		return "; the master rejected this slave's client certificate (not trusted, or not valid for client authentication)"
	case "tls: expired certificate":
		return "; this slave's client certificate has expired"
	}
	return ""
}

// explain adds what to do to handshake errors whose cause is clear.
func (d *TLSDialer) explain(err error, address string) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		header   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown):
		trusted := "the system's roots (set ca_file)"
		switch {
		case d.CAFile != "":
			trusted = fmt.Sprintf("ca_file %q", d.CAFile)
		case d.TLSConfig != nil && d.TLSConfig.RootCAs != nil:
			trusted = "TLSConfig.RootCAs"
		}
		return fmt.Errorf("%w; the master's certificate is not signed by a CA in %s", err, trusted)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w; set server_name to a name the master's certificate holds", err)
	case errors.As(err, &header):
		if string(header.RecordHeader[:4]) == "FRPC" {
			return fmt.Errorf("%w: the master at %s speaks plain FastRpc, not TLS: dial it with dialer.tcp, or serve it with listener.tls", err, address)
		}
		return fmt.Errorf("%w: the server at %s does not speak TLS", err, address)
	}
	return err
}

// ClientAuth values of TLSListener.
const (
	ClientAuthNone    = "none"    // no client certificate is asked for
	ClientAuthRequest = "request" // asked for, verified if given, not required
	ClientAuthRequire = "require" // required and verified: mutual TLS
)

// TLSListener is the "listener.tls" module: TCP with TLS 1.2 or later,
// and mutual TLS when client_auth is "require". From JSON:
//
//	{"module": "tls", "address": "0.0.0.0:10443", "cert_file": "server.pem",
//	 "key_file": "server.key", "client_ca_file": "clients-ca.pem", "client_auth": "require"}
//
// From code, set the same fields, or TLSConfig instead of the file fields.
// A handler reads the caller's verified certificate with PeerIdentity.
//
// A peer that does not speak TLS (a slave with a plain TCP dialer, say) is
// answered with a TLS alert record before the connection closes, so it can
// tell that the master speaks TLS rather than seeing a bare reset.
type TLSListener struct {
	// Address is the host:port to listen on; port 0 picks a free port.
	Address string `json:"address"`
	// CertFile and KeyFile hold the master's PEM certificate chain (leaf
	// first) and key. Required unless TLSConfig is set.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// ClientCAFile holds the PEM certificates of the CAs trusted to sign
	// client certificates. Required when ClientAuth is "request" or
	// "require".
	ClientCAFile string `json:"client_ca_file,omitempty"`
	// ClientAuth is "none", "request" or "require" (mutual TLS). Empty
	// means "require" when ClientCAFile is set and "none" otherwise.
	ClientAuth string `json:"client_auth,omitempty"`
	// MinVersion is "1.2" (the default) or "1.3".
	MinVersion string `json:"min_version,omitempty"`

	// TLSConfig, set from code, replaces CertFile, KeyFile and
	// ClientCAFile: it is used as given (cloned), except that ClientAuth
	// and MinVersion, when set, apply on top and the minimum version is
	// never below TLS 1.2.
	TLSConfig *tls.Config `json:"-"`

	mu  sync.Mutex
	cfg *tls.Config
}

// FastRpcModule implements module.Module.
func (*TLSListener) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceListener + ".tls", New: func() module.Module { return new(TLSListener) }}
}

func (l *TLSListener) check() error {
	if err := checkAddress(l.Address); err != nil {
		return err
	}
	if _, err := parseVersion(l.MinVersion); err != nil {
		return err
	}
	auth, err := l.clientAuth()
	if err != nil {
		return err
	}
	if l.TLSConfig != nil {
		if l.CertFile != "" || l.KeyFile != "" || l.ClientCAFile != "" {
			return errors.New("TLSConfig replaces cert_file, key_file and client_ca_file: set one or the other")
		}
		c := l.TLSConfig
		if len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil {
			return errors.New("TLSConfig has no certificate: set Certificates or GetCertificate")
		}
		if auth >= tls.VerifyClientCertIfGiven && c.ClientCAs == nil {
			return fmt.Errorf("client_auth %q needs TLSConfig.ClientCAs, the CAs that sign client certificates", l.ClientAuth)
		}
		return nil
	}
	switch {
	case l.CertFile == "" && l.KeyFile == "":
		return errors.New("cert_file and key_file are required: the master's certificate chain and its key")
	case (l.CertFile == "") != (l.KeyFile == ""):
		return errors.New("cert_file and key_file go together: set both")
	case auth >= tls.VerifyClientCertIfGiven && l.ClientCAFile == "":
		return fmt.Errorf("client_auth %q needs client_ca_file, the CAs that sign client certificates", l.ClientAuth)
	case l.ClientAuth == ClientAuthNone && l.ClientCAFile != "":
		return errors.New(`client_ca_file is set but client_auth is "none", so clients are not asked for certificates: set client_auth to "require" (or "request"), or remove client_ca_file`)
	}
	return nil
}

// clientAuth maps ClientAuth to crypto/tls's; -1 means "leave TLSConfig's".
func (l *TLSListener) clientAuth() (tls.ClientAuthType, error) {
	switch l.ClientAuth {
	case "":
		switch {
		case l.TLSConfig != nil:
			return -1, nil
		case l.ClientCAFile != "":
			return tls.RequireAndVerifyClientCert, nil
		}
		return tls.NoClientCert, nil
	case ClientAuthNone:
		return tls.NoClientCert, nil
	case ClientAuthRequest:
		return tls.VerifyClientCertIfGiven, nil
	case ClientAuthRequire:
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf(`client_auth %q: use "none", "request" or "require"`, l.ClientAuth)
}

// Validate implements module.Validator.
func (l *TLSListener) Validate() error { return l.check() }

// Provision implements module.Provisioner: it reads the files and builds
// the tls.Config every connection uses. A config that does not pass
// Validate is left for Validate to report.
func (l *TLSListener) Provision(context.Context) error {
	if l.check() != nil {
		return nil
	}
	_, err := l.config()
	return err
}

func (l *TLSListener) config() (*tls.Config, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg != nil {
		return l.cfg, nil
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	auth, _ := l.clientAuth()
	var cfg *tls.Config
	if l.TLSConfig != nil {
		cfg = l.TLSConfig.Clone()
	} else {
		pair, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file %q and key_file %q: %w", l.CertFile, l.KeyFile, err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{pair}}
		if l.ClientCAFile != "" {
			if cfg.ClientCAs, err = loadPool("client_ca_file", l.ClientCAFile); err != nil {
				return nil, err
			}
		}
	}
	if auth >= 0 {
		cfg.ClientAuth = auth
	}
	v, _ := parseVersion(l.MinVersion)
	cfg.MinVersion = max(cfg.MinVersion, v)
	l.cfg = cfg
	return cfg, nil
}

// Listen implements Listener. The TLS handshake of each connection runs
// in the master's goroutine for it, bounded by the master's
// HeaderTimeout, so a slow or hostile peer never holds up Accept.
func (l *TLSListener) Listen(ctx context.Context) (net.Listener, error) {
	cfg, err := l.config()
	if err != nil {
		return nil, fmt.Errorf("listener.tls: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", l.Address)
	if err != nil {
		return nil, fmt.Errorf("listener.tls: %w", err)
	}
	return &tlsListener{Listener: ln, cfg: cfg}, nil
}

type tlsListener struct {
	net.Listener
	cfg *tls.Config
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&plainGuard{Conn: c}, l.cfg), nil
}

// plainGuard sits under a server-side tls.Conn. If the peer's first bytes
// cannot start a TLS record (a plain FastRpc slave's preface, say), it
// answers with a fatal unexpected_message alert and half-closes, so the
// peer reads bytes it can recognise (0x15 0x03 ...) followed by EOF,
// instead of a bare reset. The handshake then fails as it would anyway.
type plainGuard struct {
	net.Conn
	checked bool // only the tls.Conn's reader touches it
}

const (
	recordTypeAlert     = 0x15
	recordTypeHandshake = 0x16
)

// unexpectedMessage is a TLS alert record: fatal, unexpected_message, in
// the TLS 1.0 record version used before a version is agreed.
var unexpectedMessage = []byte{recordTypeAlert, 0x03, 0x01, 0x00, 0x02, 0x02, 0x0a}

func (g *plainGuard) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if !g.checked && n > 0 {
		g.checked = true
		if p[0] != recordTypeHandshake && p[0] != recordTypeAlert {
			_, _ = g.Conn.Write(unexpectedMessage)
			if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
		}
	}
	return n, err
}

// NetConn returns the TCP connection, for code that unwraps connections
// (the slave's stale-connection probe, for one).
func (g *plainGuard) NetConn() net.Conn { return g.Conn }

// parseVersion maps min_version to a crypto/tls version; "" is TLS 1.2.
func parseVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf(`min_version %q: use "1.2" or "1.3"`, s)
}

// loadPool reads the PEM certificates of a CA file.
func loadPool(field, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %q: no PEM certificate found in it", field, path)
	}
	return pool, nil
}
