package middleware

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
)

// Authorize lets a call through only when the caller presented a TLS
// client certificate that the master verified (mutual TLS) and that names
// an identity allowed for the method. An identity is the certificate's
// subject common name, any of its DNS names, or any of its URIs (such as a
// SPIFFE ID). Refused calls get StatusPermissionDenied and never reach the
// handler.
type Authorize struct {
	// Allow maps a method name to the identities allowed to call it; the
	// key "*" applies to methods not listed. A method with no entry and no
	// "*" is refused to everyone.
	Allow map[string][]string `json:"allow"`
	// PublicCapabilities lets anyone call the built-in capabilities method.
	PublicCapabilities bool `json:"public_capabilities,omitempty"`
}

// FastRpcModule implements module.Module.
func (Authorize) FastRpcModule() module.Info {
	return module.Info{ID: "middleware.authorize", New: func() module.Module { return new(Authorize) }}
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
func (a *Authorize) WrapHandler(next master.HandlerFunc) master.HandlerFunc {
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
			return fmt.Errorf("%w: %v", master.ErrPermissionDenied, err)
		}
		for _, id := range ids {
			if slices.Contains(allowed, id) {
				return next(op)
			}
		}
		return fmt.Errorf("%w: %v may not call %q", master.ErrPermissionDenied, ids, op.Method())
	}
}

// PeerIdentities returns the identities in the caller's verified TLS client
// certificate: subject common name, DNS names and URIs. It fails when the
// call did not come over TLS or the master did not verify a client
// certificate.
func PeerIdentities(op *master.IOOperator) ([]string, error) {
	tc, ok := op.NetConn().(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return nil, errors.New("the call did not come over TLS")
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return nil, errors.New("no verified client certificate")
	}
	leaf := st.VerifiedChains[0][0]
	var ids []string
	if leaf.Subject.CommonName != "" {
		ids = append(ids, leaf.Subject.CommonName)
	}
	ids = append(ids, leaf.DNSNames...)
	for _, u := range leaf.URIs {
		ids = append(ids, u.String())
	}
	return ids, nil
}
