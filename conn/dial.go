package conn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
)

// Dialer opens a network connection. *net.Dialer, *tls.Dialer and most
// proxy dialers satisfy it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// DefaultHandshakeTimeout bounds the dial and preface exchange of [Dial]
// when its context has no deadline.
const DefaultHandshakeTimeout = 10 * time.Second

// Errors a master's preface can give; see [frame.HandshakeStatus].
var (
	// ErrMasterOverloaded means the master is at its connection limit.
	// Retry later, or raise the master's MaxConnections.
	ErrMasterOverloaded = errors.New("fastrpc: master refused the connection: at its connection limit")
	// ErrMasterShuttingDown means the master is stopping and processes
	// nothing more on this connection.
	ErrMasterShuttingDown = errors.New("fastrpc: master is shutting down")
)

// Errors of a [DialWith] cut short by its own timeouts. Neither matches
// context.DeadlineExceeded: that is kept for the end of the caller's
// context.
var (
	// ErrDialTimeout means the Dialer did not connect within
	// DialConfig.ConnectTimeout: the peer is down or unreachable, or the
	// network drops packets.
	ErrDialTimeout = errors.New("fastrpc: dial timed out")
	// ErrNoPreface means the peer accepted the connection but sent no
	// FastRpc preface within DialConfig.HandshakeTimeout. A FastRpc master
	// sends its preface as soon as it accepts, so the peer is most likely
	// not a FastRpc master (an HTTP server, say), or is stuck.
	ErrNoPreface = errors.New("fastrpc: the peer sent no FastRpc preface in time")
)

// DialConfig is how [DialWith] opens a connection. A zero timeout leaves
// that step bounded by the context only.
type DialConfig struct {
	// Conn sets the connection's buffer sizes and probing.
	Conn Config
	// ConnectTimeout bounds the Dialer's DialContext: the TCP connect,
	// and the TLS handshake when the Dialer does one. When it passes, the
	// error matches ErrDialTimeout.
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds the FastRpc preface exchange once connected.
	// When it passes, the error matches ErrNoPreface.
	HandshakeTimeout time.Duration
}

// Dial opens a connection with d and performs the slave's side of the
// handshake: it sends its preface and reads and checks the master's. The
// whole exchange is bounded by ctx's deadline, or DefaultHandshakeTimeout.
// See DialWith for timeouts of its own.
func Dial(ctx context.Context, d Dialer, network, address string, cfg Config) (*Conn, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultHandshakeTimeout)
		defer cancel()
	}
	return DialWith(ctx, d, network, address, DialConfig{Conn: cfg})
}

// DialWith is Dial with its own bounds for each step (see DialConfig) on
// top of ctx's. An error caused by the end of ctx matches ctx's error; one
// caused by cfg's timeouts matches ErrDialTimeout or ErrNoPreface and not
// context.DeadlineExceeded. A refusal in the master's preface matches
// ErrMasterOverloaded or ErrMasterShuttingDown; a peer that does not speak
// FastRpc gives frame.ErrBadMagic, another protocol version a
// *frame.VersionError.
func DialWith(ctx context.Context, d Dialer, network, address string, cfg DialConfig) (*Conn, error) {
	cctx, cancel := withTimeout(ctx, cfg.ConnectTimeout)
	nc, err := d.DialContext(cctx, network, address)
	timedOut := cctx.Err() != nil
	cancel()
	if err != nil {
		if ctxEnd(ctx) == nil && (timedOut || errors.Is(err, context.DeadlineExceeded)) {
			// Our own bound, or the Dialer's: the net error is shown, not
			// wrapped, since it matches context.DeadlineExceeded.
			after := ""
			if timedOut {
				after = fmt.Sprintf(" after %v", cfg.ConnectTimeout)
			}
			return nil, errtext.Errorf("connecting to the master: %w%s (%v)", ErrDialTimeout, after, err)
		}
		return nil, errtext.Errorf("connecting to the master: %w", withCtxErr(ctx, err))
	}
	c := New(nc, cfg.Conn)
	hctx, cancel := withTimeout(ctx, cfg.HandshakeTimeout)
	err = c.clientHandshake(hctx)
	timedOut = hctx.Err() != nil
	cancel()
	if err != nil {
		_ = nc.Close()
		if ctxEnd(ctx) == nil && timedOut {
			return nil, &matchError{
				msg: fmt.Sprintf("fastrpc: the peer at %s sent no FastRpc preface within %v; is it a FastRpc master?",
					address, cfg.HandshakeTimeout),
				is: ErrNoPreface,
			}
		}
		return nil, errtext.Errorf("handshake with %s: %w%s", address, withCtxErr(ctx, err), remoteTLSHint(err))
	}
	return c, nil
}

// matchError is an error whose message is msg and that matches is.
type matchError struct {
	msg string
	is  error
}

func (e *matchError) Error() string        { return e.msg }
func (e *matchError) Is(target error) bool { return target == e.is }

// withTimeout is context.WithTimeout, or ctx itself when d is 0.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// ctxEnd returns ctx's error, or context.DeadlineExceeded once its
// deadline has passed: a socket deadline taken from ctx can fire a moment
// before ctx's own timer. It is nil while ctx runs.
func ctxEnd(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// withCtxErr makes an error caused by ctx ending match ctx's error. Socket
// deadlines taken from ctx can fire a moment before ctx's own timer, so a
// passed deadline counts too.
func withCtxErr(ctx context.Context, err error) error {
	cerr := ctxEnd(ctx)
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w (%w)", cerr, err)
}

func (c *Conn) clientHandshake(ctx context.Context) error {
	// The end of ctx, deadline or cancellation, interrupts the exchange.
	// The socket gets no deadline of its own: one equal to ctx's deadline
	// can fire before ctx's timer, and the error would then not be ctx's.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.WritePreface(frame.HandshakeOK); err != nil {
		return err
	}
	p, err := c.ReadPreface()
	if err != nil {
		return err
	}
	switch p.Status {
	case frame.HandshakeOK:
	case frame.HandshakeOverloaded:
		return ErrMasterOverloaded
	case frame.HandshakeShuttingDown:
		return ErrMasterShuttingDown
	default:
		return fmt.Errorf("master refused the connection with unknown %v", p.Status)
	}
	if !stop() {
		return ctx.Err()
	}
	return c.nc.SetDeadline(time.Time{})
}

// remoteTLSHint explains a TLS alert from the master about this slave's
// certificate: in TLS 1.3 it arrives only when the preface is read.
//
// A Go master says "certificate required" when the slave sent no
// certificate, and a Go slave sends none either when it has none or when
// the only ones it has are not signed by a CA the master names (the CAs
// it trusts). Which one it was, the dialer knows: transport.TLSDialer
// returns the alert with a ClientCertificateConfigured method. A
// certificate that is sent and fails verification gets another alert.
func remoteTLSHint(err error) string {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "remote error" {
		return ""
	}
	switch oe.Err.Error() {
	case "tls: certificate required":
		var dialer interface{ ClientCertificateConfigured() bool }
		switch {
		case !errors.As(err, &dialer):
			return "; the master requires a client certificate signed by a CA it trusts (cert_file and key_file); a Go client sends none if no CA the master names signed its own"
		case dialer.ClientCertificateConfigured():
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
