package middleware

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/transport"
)

// Authorize is the "master.middleware.authorize" module: it lets a call
// through only when the caller presented a TLS client certificate that the
// master verified (mutual TLS) and that names an identity allowed for the
// method. An identity is the certificate's subject common name, any of its
// DNS names, or any of its URIs (such as a SPIFFE ID). Refused calls get
// StatusPermissionDenied and never reach the handler.
type Authorize struct {
	// Allow maps a method name to the identities allowed to call it; the
	// key "*" applies to methods not listed. A method with no entry and no
	// "*" is refused to everyone.
	Allow map[string][]string `json:"allow"`
	// PublicCapabilities lets anyone call the built-in capabilities method.
	PublicCapabilities bool `json:"public_capabilities,omitempty"`
}

// FastRpcModule implements module.Module.
func (Authorize) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: masterID("authorize"), New: func() module.Module { return new(Authorize) }}
}

// Validate checks the allow list.
func (a *Authorize) Validate() error {
	if len(a.Allow) == 0 {
		return errors.New(`allow: empty; map method names (or "*") to allowed identities`)
	}
	for method, ids := range a.Allow {
		if len(ids) == 0 {
			return fmt.Errorf("allow[%q]: no identities; remove the entry to refuse everyone", method)
		}
	}
	return nil
}

// WrapHandler implements master.MiddlewareModule.
func (a *Authorize) WrapHandler(next master.Handler) master.Handler {
	return func(op *master.IOOperator) error {
		if a.PublicCapabilities && op.Method() == frame.CapabilitiesName {
			return next(op)
		}
		allowed, ok := a.Allow[op.Method()]
		if !ok {
			allowed = a.Allow["*"]
		}
		ids, err := PeerIdentities(op)
		if err != nil {
			return denied(err.Error())
		}
		for _, id := range ids {
			if slices.Contains(allowed, id) {
				return next(op)
			}
		}
		return denied(fmt.Sprintf("%v may not call %q", ids, op.Method()))
	}
}

// denied is a refusal: it matches master.ErrPermissionDenied, and its
// message is only the reason (the status already says "permission denied").
type denied string

func (d denied) Error() string        { return string(d) }
func (d denied) Is(target error) bool { return target == master.ErrPermissionDenied }

// PeerIdentities returns the identities in the caller's verified TLS client
// certificate: subject common name, DNS names and URIs. It fails when the
// call did not come over TLS or the master did not verify a client
// certificate.
func PeerIdentities(op *master.IOOperator) ([]string, error) {
	if _, ok := unwrapTLS(op.NetConn()); !ok {
		return nil, errors.New("the call did not come over TLS")
	}
	id, ok := transport.PeerIdentity(op.NetConn())
	if !ok {
		return nil, errors.New("no verified client certificate")
	}
	var ids []string
	if id.CommonName != "" {
		ids = append(ids, id.CommonName)
	}
	ids = append(ids, id.DNSNames...)
	for _, u := range id.URIs {
		ids = append(ids, u.String())
	}
	return ids, nil
}

// unwrapTLS finds a *tls.Conn under NetConn wrappers.
func unwrapTLS(nc net.Conn) (*tls.Conn, bool) {
	for range 4 {
		if tc, ok := nc.(*tls.Conn); ok {
			return tc, true
		}
		w, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil, false
		}
		nc = w.NetConn()
	}
	return nil, false
}
