package typed

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/master"
)

// Registrar is where typed handlers are registered: *master.Master and
// *fastrpc.RpcMaster both satisfy it.
type Registrar interface {
	Register(name string, info master.MethodInfo, h master.Handler) error
}

// RegisterOption configures Register.
type RegisterOption func(*registerOptions)

type registerOptions struct {
	description string
}

// WithDescription adds text to the method's description in the master's
// capabilities, after the request and response type names.
func WithDescription(description string) RegisterOption {
	return func(o *registerOptions) { o.description = description }
}

// Register registers h under name on m. Requests are decoded from c into a
// new Req and h's response is encoded with c; the master's capabilities
// list c's name as the method's incoming and returning encoding, which is
// how Call picks the codec, and describe the method as "Req -> Resp" (Go
// type names), followed by WithDescription's text.
//
// h gets the call's context (its deadline is the slave's). An error h
// returns reaches the caller as an application error with its message,
// and with its code if it carries one (Errorf, master.WithCode). A
// request that does not decode is answered with CodeBadRequest and a
// message naming the method, the codec and the type, without calling h.
//
// Register fails as master.Master.Register does (empty, reserved or
// duplicate names), and for a nil registrar, codec or handler.
func Register[Req, Resp any](m Registrar, name string, c codec.Codec, h func(ctx context.Context, req Req) (Resp, error), opts ...RegisterOption) error {
	switch {
	case m == nil:
		return errtext.Errorf("typed: Register %q: nil Registrar", name)
	case c == nil:
		return errtext.Errorf("typed: Register %q: nil codec", name)
	case h == nil:
		return errtext.Errorf("typed: Register %q: nil handler", name)
	}
	var o registerOptions
	for _, opt := range opts {
		opt(&o)
	}
	reqType, respType := reflect.TypeFor[Req]().String(), reflect.TypeFor[Resp]().String()
	desc := reqType + " -> " + respType
	if o.description != "" {
		desc += ": " + o.description
	}
	info := master.MethodInfo{Description: desc, IncomingEncoding: c.Name(), ReturningEncoding: c.Name()}
	return m.Register(name, info, handler(name, c, reqType, h))
}

func handler[Req, Resp any](name string, c codec.Codec, reqType string, h func(context.Context, Req) (Resp, error)) master.Handler {
	reqBoxes, respBoxes := boxesFor[Req](), boxesFor[Resp]()
	return func(op *master.IOOperator) error {
		left := op.ReadDataLeft()
		if left > uint64(maxInt) {
			return &Error{AppCode: CodeBadRequest, Message: fmt.Sprintf("typed: method %q: a request of %d bytes does not fit in memory", name, left)}
		}
		bp := getBuffer()
		defer putBuffer(bp)
		b, err := readPayload(op, (*bp)[:0], int(left))
		*bp = b
		if err != nil {
			return err // the connection failed; the master drops it
		}

		rb := reqBoxes.get()
		err = c.Unmarshal(b, rb)
		req := *rb
		reqBoxes.put(rb)
		if err != nil {
			de := &DecodeError{Method: name, Codec: c.Name(), Type: reqType, What: "request", Err: err}
			return &Error{AppCode: CodeBadRequest, Message: de.Error(), err: de}
		}
		resp, err := h(op.Context(), req)
		if err != nil {
			return err
		}
		pb := respBoxes.get()
		*pb = resp
		out, err := c.Append(b[:0], pb)
		respBoxes.put(pb)
		if cap(out) > cap(b) {
			*bp = out
		}
		if err != nil {
			return &Error{AppCode: CodeBadResponse, Message: fmt.Sprintf("typed: method %q: cannot encode the response (%T) with codec %s: %v", name, resp, c.Name(), err), err: err}
		}
		return op.WriteIOFromBuffer(out)
	}
}

// errNilCaller is returned by calls through a nil Caller.
var errNilCaller = errors.New("fastrpc: typed: nil Caller")
