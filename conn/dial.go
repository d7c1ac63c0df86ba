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

// Dialer opens a network connection for a slave. *net.Dialer, *tls.Dialer
// and most proxy dialers satisfy it, and so do the "dialer.*" modules of
// package transport.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Listener opens the net.Listener a master serves; it is the dialer's
// counterpart, what master.Config.Listeners holds and the "listener.*"
// modules of package transport implement.
type Listener interface {
	Listen(ctx context.Context) (net.Listener, error)
}

// Defaults of [DialConfig] and of the slave's dialer.
const (
	// DefaultConnectTimeout bounds the Dialer's connect (and TLS
	// handshake) when DialConfig.ConnectTimeout is 0.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultHandshakeTimeout bounds the FastRpc preface exchange when
	// DialConfig.HandshakeTimeout is 0: a master sends its preface as
	// soon as it accepts, so a peer silent this long is not one.
	DefaultHandshakeTimeout = 2 * time.Second
	// DefaultKeepAlive is the TCP keep-alive period of the slave's default
	// dialer and of package transport's TCP and TLS dialers.
	DefaultKeepAlive = 30 * time.Second
)

// Errors a master's preface can give; see [frame.HandshakeStatus].
var (
	// ErrMasterOverloaded means the master is at its connection limit.
	// Retry later, or raise the master's MaxConnections.
	ErrMasterOverloaded = errors.New("fastrpc: master refused the connection: at its connection limit")
	// ErrMasterShuttingDown means the master is stopping and processes
	// nothing more on this connection.
	ErrMasterShuttingDown = errors.New("fastrpc: master is shutting down")
)

// Errors of a [Dial] cut short by its own timeouts. Neither matches
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

// DialConfig is how [Dial] opens a connection. A zero timeout takes its
// default; a negative one leaves that step bounded by the context only.
type DialConfig struct {
	// Conn sets the connection's buffer sizes and probing.
	Conn Config
	// ConnectTimeout bounds the Dialer's DialContext: the TCP connect,
	// and the TLS handshake when the Dialer does one. When it passes, the
	// error matches ErrDialTimeout. 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds the FastRpc preface exchange once connected.
	// When it passes, the error matches ErrNoPreface. 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxVersion is the highest protocol version offered to the master; 0
	// means frame.MaxVersion. The connection speaks the lower of it and
	// the master's highest (see Conn.Version).
	MaxVersion uint16
}

// Dial opens a connection with d and performs the slave's side of the
// handshake: it sends its preface and reads and checks the master's. Each
// step has its own bound (see DialConfig) on top of ctx's. An error caused
// by the end of ctx matches ctx's error; one caused by cfg's timeouts
// matches ErrDialTimeout or ErrNoPreface and not
// context.DeadlineExceeded. A refusal in the master's preface matches
// ErrMasterOverloaded or ErrMasterShuttingDown; a peer that does not speak
// FastRpc gives frame.ErrBadMagic, another protocol version a
// *frame.VersionError. The steps' bounds hold inside a longer ctx deadline
// too: pass a negative timeout to leave a step to ctx alone.
func Dial(ctx context.Context, d Dialer, network, address string, cfg DialConfig) (*Conn, error) {
	cfg.ConnectTimeout = orDefault(cfg.ConnectTimeout, DefaultConnectTimeout)
	cfg.HandshakeTimeout = orDefault(cfg.HandshakeTimeout, DefaultHandshakeTimeout)
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
	err = c.clientHandshake(hctx, cfg.MaxVersion)
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
		return nil, errtext.Errorf("handshake with %s: %w", address, withCtxErr(ctx, err))
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

// orDefault applies a zero-means-default, negative-means-off timeout.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

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

func (c *Conn) clientHandshake(ctx context.Context, max uint16) error {
	if max == 0 || max > frame.MaxVersion {
		max = frame.MaxVersion
	}
	// The end of ctx, deadline or cancellation, interrupts the exchange.
	// The socket gets no deadline of its own: one equal to ctx's deadline
	// can fire before ctx's timer, and the error would then not be ctx's.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.writePreface(frame.SlavePreface(max)); err != nil {
		return err
	}
	p, err := c.ReadPreface()
	if err != nil {
		return err
	}
	if p.Version > max {
		return &frame.VersionError{Local: max, Remote: p.Version}
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
	c.version = p.Version
	return c.nc.SetDeadline(time.Time{})
}
