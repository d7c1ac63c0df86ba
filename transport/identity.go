package transport

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
)

// Identity is a peer's verified TLS certificate, as PeerIdentity returns
// it. Its slices belong to the connection and must not be modified.
type Identity struct {
	// CommonName is the leaf certificate's Subject CommonName.
	CommonName string
	// DNSNames and URIs are the leaf's subject alternative names; URIs
	// carry SPIFFE IDs such as spiffe://example.org/billing.
	DNSNames []string
	URIs     []*url.URL
	// Chain is the verified chain, leaf first and the trusted root last.
	Chain []*x509.Certificate
}

// PeerIdentity returns the verified certificate of nc's peer. nc is a
// *tls.Conn whose handshake is complete (or a connection wrapping one and
// exposing it with a NetConn method). On a master, a handler passes
// op.NetConn(): the handshake is complete once a request has been read.
//
// ok is false when nc is not TLS, or when no certificate was verified: a
// listener with client_auth "none", or "request" and a client that sent
// none.
func PeerIdentity(nc net.Conn) (id Identity, ok bool) {
	for range 4 {
		if cs, isTLS := nc.(interface{ ConnectionState() tls.ConnectionState }); isTLS {
			st := cs.ConnectionState()
			if !st.HandshakeComplete || len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
				return Identity{}, false
			}
			chain := st.VerifiedChains[0]
			leaf := chain[0]
			return Identity{CommonName: leaf.Subject.CommonName, DNSNames: leaf.DNSNames, URIs: leaf.URIs, Chain: chain}, true
		}
		u, wraps := nc.(interface{ NetConn() net.Conn })
		if !wraps {
			break
		}
		nc = u.NetConn()
	}
	return Identity{}, false
}
