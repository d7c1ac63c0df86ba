package cluster

import (
	"context"

	"github.com/AmanTrance/FastRpc/module"
)

// Endpoint is one master a resolver found.
type Endpoint struct {
	// Address is the master's address, such as "10.0.0.5:10000".
	Address string
	// Zone is where the master runs, if the resolver knows ("" if not).
	Zone string
	// Weight is the master's share relative to the others; 0 means 1.
	Weight int
}

// Resolver finds the masters behind a name and reports every change.
type Resolver interface {
	// Watch calls update with the whole current list of endpoints, once
	// it has one and then after every change, until ctx ends; it then
	// returns ctx's error. It returns another error only when it cannot go
	// on at all. update is never called concurrently with itself.
	Watch(ctx context.Context, update func([]Endpoint)) error
}

// Refresher is a Resolver that can look again before its next scheduled
// look, as gRPC's ResolveNow: the client calls Refresh each time it
// ejects a master whose dials or connections failed, since the masters
// may have moved. Refresh must return at once; the resolver may look
// later, or not at all if it looked very recently.
type Refresher interface {
	Refresh()
}

// ResolverModule is what a "resolver.*" module (module.NamespaceResolver)
// provides.
type ResolverModule interface {
	module.Module
	Resolver
}

// Member is a master as a balancer sees it.
type Member interface {
	// Address is the master's address: the same member keeps it.
	Address() string
	// Weight is the master's share; at least 1.
	Weight() int
	// InFlight is how many calls the client has in flight on it now.
	InFlight() int64
}

// PickInfo is what a Picker knows of the call it places.
type PickInfo struct {
	// Method is the method called.
	Method string
	// Key is the caller's affinity key (see WithKey), "" when none.
	Key string
	// Eligible reports whether m may take the call (not ejected, serves
	// the method, not already tried by this call). A Picker returns only
	// eligible members.
	Eligible func(m Member) bool
}

// Balancer spreads a cluster client's calls over its masters.
type Balancer interface {
	// Build returns a Picker over members, which is never empty. The
	// client calls it whenever the set of masters changes, and uses the
	// Picker from then on; members keep their order and identity between
	// builds where they stay.
	Build(members []Member) Picker
}

// Picker places calls on the members it was built over. It must be safe
// for concurrent use and quick: it runs on every call.
type Picker interface {
	// Pick returns an eligible member for the call, or false when none
	// is.
	Pick(info PickInfo) (Member, bool)
}

// BalancerModule is what a "balancer.*" module (module.NamespaceBalancer)
// provides.
type BalancerModule interface {
	module.Module
	Balancer
}

type keyKey struct{}

// WithKey returns ctx carrying key as the affinity key of the calls made
// with it: the consistent_hash balancer sends calls with the same key to
// the same master while it is there.
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyKey{}, key)
}

// keyOf returns the affinity key of ctx, "" when none.
func keyOf(ctx context.Context) string {
	k, _ := ctx.Value(keyKey{}).(string)
	return k
}
