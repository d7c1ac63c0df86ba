package slave

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
)

// Sentinel errors. Those that name a response status match a *RemoteError
// with that status under errors.Is.
var (
	// ErrClosed is returned by calls on a closed slave.
	ErrClosed = errors.New("fastrpc: slave is closed")
	// ErrApplication matches a handler's error (WriteError or a returned
	// error). errors.As with *RemoteError gives its message and code.
	ErrApplication = errors.New("fastrpc: handler returned an error")
	// ErrUnknownMethod: the master has no method of that name. Check the
	// name, or Capabilities for what it serves.
	ErrUnknownMethod = errors.New("fastrpc: master has no such method")
	// ErrRequestTooLarge: the request exceeds the master's limit, or the
	// slave's own MaxRequestSize or MaxStreamRequestSize (then nothing was
	// sent).
	ErrRequestTooLarge = errors.New("fastrpc: request too large")
	// ErrHandlerPanic: the handler panicked; the master logged the details.
	ErrHandlerPanic = errors.New("fastrpc: handler panicked")
	// ErrShuttingDown: the master did not process the request, because it
	// is stopping or closed the idle connection the request went out on,
	// and the slave's own re-send on another connection (byte-slice
	// requests; see Slave.Call) did not get through either, or the request
	// was a stream. It is safe to send it elsewhere or later. A master
	// refusing a new connection while it stops gives this error too.
	ErrShuttingDown = conn.ErrMasterShuttingDown
	// ErrOverloaded: the master refused a new connection at its limit.
	ErrOverloaded = conn.ErrMasterOverloaded
	// ErrResponseTooLarge: the response exceeds MaxResponseSize. Raise the
	// limit or use CallStream. The connection was dropped, not drained.
	ErrResponseTooLarge = errors.New("fastrpc: response too large")
	// ErrPermissionDenied: the master's authorization refused the call; it
	// was not processed.
	ErrPermissionDenied = errors.New("fastrpc: permission denied")
	// ErrProtocol: the master sent something that is not valid FastRpc
	// (reserved bits set, an error message over frame.MaxErrorMessage, a
	// malformed capabilities body or metadata block, a response to another
	// call: conn.ErrCallID), or something else than FastRpc
	// answered the handshake (then frame.ErrBadMagic or a
	// *frame.VersionError is in the chain too).
	ErrProtocol = errors.New("fastrpc: protocol violation by the master")
	// ErrUnavailable: the request never reached a handler, so it is safe
	// to send again, later or to another master (gRPC's Unavailable). It is
	// matched by every such failure: the dial was refused or timed out, the
	// slave is backing off after failed dials (ErrDialBackoff), the master
	// refused the connection (ErrOverloaded, ErrShuttingDown), or it
	// answered "not processed" (ErrShuttingDown).
	ErrUnavailable = errors.New("fastrpc: master unavailable; the request was not sent")
	// ErrConnection: the connection failed after the request started to be
	// sent, or the master ended a response early (the error then says after
	// how many of its bytes). The master may have run the call; the slave
	// never re-sends it by itself. A call ended by its context's deadline
	// or cancellation does not match ErrConnection but the context's error,
	// and its text says whether the request had been sent.
	ErrConnection = errors.New("fastrpc: connection failed during the call")
	// ErrMetadataUnsupported: the call carries metadata and the master speaks only
	// protocol version 1, which has none; nothing was sent. Upgrade the
	// master, or call it without metadata.
	ErrMetadataUnsupported = conn.ErrVersion1
)

// RemoteError is a call that the master answered with a status other than
// ok. errors.Is matches it against the sentinel of its status (for example
// ErrUnknownMethod), a StatusDeadlineExceeded one also against
// context.DeadlineExceeded, and a StatusCancelled one against
// context.Canceled.
type RemoteError struct {
	Method  string       // the method called
	Status  frame.Status // how the call ended
	Code    uint32       // application error code, 0 when none
	Message string       // the master's message
}

func (e *RemoteError) Error() string {
	// A message made by FastRpc on the master (typed's, say) has the
	// prefix this text already starts with; it is shown once.
	msg := strings.TrimPrefix(e.Message, errtext.Prefix)
	if e.Code != 0 {
		return fmt.Sprintf("fastrpc: call %q: %v (code %d): %s", e.Method, e.Status, e.Code, msg)
	}
	return fmt.Sprintf("fastrpc: call %q: %v: %s", e.Method, e.Status, msg)
}

// Is reports whether target is the sentinel for e's status.
func (e *RemoteError) Is(target error) bool {
	switch e.Status {
	case frame.StatusApplicationError:
		return target == ErrApplication
	case frame.StatusUnknownMethod:
		return target == ErrUnknownMethod
	case frame.StatusRequestTooLarge:
		return target == ErrRequestTooLarge
	case frame.StatusHandlerPanic:
		return target == ErrHandlerPanic
	case frame.StatusShuttingDown:
		return target == ErrShuttingDown || target == ErrUnavailable
	case frame.StatusDeadlineExceeded:
		return target == context.DeadlineExceeded
	case frame.StatusPermissionDenied:
		return target == ErrPermissionDenied
	case frame.StatusCancelled:
		return target == context.Canceled
	}
	return false
}
