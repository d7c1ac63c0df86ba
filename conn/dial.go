package conn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
)

// Dialer opens a network connection. *net.Dialer, *tls.Dialer and most
// proxy dialers satisfy it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// DefaultHandshakeTimeout bounds the dial and preface exchange when the
// context passed to Dial has no deadline.
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

// Dial opens a connection with d and performs the slave's side of the
// handshake: it sends its preface and reads and checks the master's. The
// whole exchange is bounded by ctx's deadline, or DefaultHandshakeTimeout.
func Dial(ctx context.Context, d Dialer, network, address string, cfg Config) (*Conn, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultHandshakeTimeout)
		defer cancel()
	}
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("fastrpc: connecting to the master: %w", withCtxErr(ctx, err))
	}
	c := New(nc, cfg)
	if err := c.clientHandshake(ctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("fastrpc: handshake with %s: %w%s", address, withCtxErr(ctx, err), remoteTLSHint(err))
	}
	return c, nil
}

// withCtxErr makes an error caused by ctx ending match ctx's error. Socket
// deadlines taken from ctx can fire a moment before ctx's own timer, so a
// passed deadline counts too.
func withCtxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded
	}
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
func remoteTLSHint(err error) string {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "remote error" {
		return ""
	}
	switch oe.Err.Error() {
	case "tls: certificate required":
		return "; the master requires a client certificate (cert_file and key_file)"
	case "tls: unknown certificate authority", "tls: bad certificate":
		return "; the master does not trust this slave's client certificate"
	case "tls: expired certificate":
		return "; this slave's client certificate has expired"
	}
	return ""
}
