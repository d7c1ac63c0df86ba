package cluster

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/AmanTrance/FastRpc/module"
)

func init() {
	module.Register(RoundRobin{})
	module.Register(LeastLoaded{})
	module.Register(ConsistentHash{})
}

// Each balancer is a module of the "balancer" namespace.
var (
	_ BalancerModule = (*RoundRobin)(nil)
	_ BalancerModule = (*LeastLoaded)(nil)
	_ BalancerModule = (*ConsistentHash)(nil)
)

// balancerID is the ID of the balancer module named name.
func balancerID(name string) module.ID {
	return module.ID(module.NamespaceBalancer + "." + name)
}

// eligible reports whether info lets m take the call; a nil Eligible lets
// every member.
func eligible(info *PickInfo, m Member) bool {
	return info.Eligible == nil || info.Eligible(m)
}

// weightOf is m's weight, at least 1.
func weightOf(m Member) int {
	return max(m.Weight(), 1)
}

// nonePicker is the Picker over no member: it never finds one.
type nonePicker struct{}

func (nonePicker) Pick(PickInfo) (Member, bool) { return nil, false }

// seenBits is how many members a slow scan remembers having found
// ineligible, so that it asks Eligible about each of them only once
// (members past it are asked again each time the scan meets them).
const seenBits = 1024

// seen is the set of members, by index, a scan found ineligible. It lives
// on the scan's stack: the scans allocate nothing.
type seen struct {
	bits [seenBits / 64]uint64
	n    int // members in the set
}

// has reports whether member i is in the set.
func (s *seen) has(i int32) bool {
	return i < seenBits && s.bits[i/64]&(1<<(i%64)) != 0
}

// add puts member i in the set (a no-op past seenBits).
func (s *seen) add(i int32) {
	if i < seenBits {
		s.bits[i/64] |= 1 << (i % 64)
		s.n++
	}
}

// randomEligible returns a uniformly random eligible member when draws
// find one, or else the first eligible member of a scan from a random
// start: it costs one random number and one Eligible call when members
// are eligible, and at most randomDraws+len(members) Eligible calls.
func randomEligible(members []Member, info *PickInfo) (Member, bool) {
	n := uint64(len(members))
	for range randomDraws {
		if m := members[rand.Uint64()%n]; eligible(info, m) {
			return m, true
		}
	}
	start := rand.Uint64() % n
	for k := range n {
		if m := members[(start+k)%n]; eligible(info, m) {
			return m, true
		}
	}
	return nil, false
}

// randomDraws is how many random draws LeastLoaded and ConsistentHash (on
// a call without a key) make to find an eligible member before they scan.
const randomDraws = 4

// RoundRobin is the "balancer.round_robin" module, the default of a
// Client: it sends the calls to the members in turn, each in proportion to
// its weight.
//
//	{"module": "round_robin"}
//
// Build lays out a table of slots, as many per member as its weight,
// interleaved (weights 1, 1 and 4 give c, a, c, b, c, c rather than a,
// b, c, c, c, c), after dividing the weights by their greatest common divisor; when a
// weight is still above 64, all are scaled so the largest is 64 (and none
// is below 1), so the table has at most 64 slots per member. Pick takes
// the next slot of a shared atomic counter (which starts at a random slot,
// so that clients built at the same moment do not all start on the same
// master) and scans forward from it to the first eligible member; when it
// had to skip slots it moves the counter past them too, so the member
// after an ineligible one gets its own share and not the skipped one's.
//
// A Pick costs one atomic add and one Eligible call when the member of its
// slot is eligible; skipping asks each skipped member once, so at most one
// Eligible call per member (and a walk of at most the whole table) when
// none is. It allocates nothing. Under heavy parallelism the counter is
// one contended cache line; LeastLoaded has none.
type RoundRobin struct{}

// FastRpcModule implements module.Module.
func (RoundRobin) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: balancerID("round_robin"), New: func() module.Module { return new(RoundRobin) }}
}

// maxSlots is the most slots RoundRobin gives one member.
const maxSlots = 64

// Build implements Balancer.
func (RoundRobin) Build(members []Member) Picker {
	if len(members) == 0 {
		return nonePicker{}
	}
	members = slices.Clone(members)
	ws := make([]int, len(members))
	g := 0
	for i, m := range members {
		ws[i] = weightOf(m)
		g = gcd(g, ws[i])
	}
	top := 0
	for i := range ws {
		ws[i] /= g
		top = max(top, ws[i])
	}
	if top > maxSlots {
		for i, w := range ws {
			ws[i] = max(1, int(math.Round(float64(w)*maxSlots/float64(top))))
		}
	}
	// Slot k (0..w-1) of member i of n is due at (k + (i+1)/(n+1)) / w:
	// sorting the slots by that time spaces each member's slots evenly
	// over the table, and the members' phases apart.
	type slot struct{ k, w, i int64 }
	var all []slot
	for i, w := range ws {
		for k := range w {
			all = append(all, slot{int64(k), int64(w), int64(i)})
		}
	}
	n1 := int64(len(ws) + 1)
	slices.SortFunc(all, func(a, b slot) int {
		return cmp.Compare((a.k*n1+a.i+1)*b.w, (b.k*n1+b.i+1)*a.w)
	})
	p := &rrPicker{members: members, slots: make([]int32, len(all))}
	for j, s := range all {
		p.slots[j] = int32(s.i)
	}
	p.next.Store(rand.Uint64N(uint64(len(p.slots))))
	return p
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// rrPicker is RoundRobin's Picker.
type rrPicker struct {
	members []Member
	slots   []int32 // index in members of each slot
	_       [64]byte
	next    atomic.Uint64 // the slot of the next pick, modulo len(slots)
	_       [56]byte      // next alone on its cache line
}

// Pick implements Picker.
func (p *rrPicker) Pick(info PickInfo) (Member, bool) {
	n := uint64(len(p.slots))
	start := (p.next.Add(1) - 1) % n
	if m := p.members[p.slots[start]]; eligible(&info, m) {
		return m, true
	}
	return p.skip(&info, start)
}

// skip scans the slots after start, whose member is not eligible, for the
// first eligible member, and moves the counter past the slots it skipped.
func (p *rrPicker) skip(info *PickInfo, start uint64) (Member, bool) {
	var no seen
	no.add(p.slots[start])
	n := uint64(len(p.slots))
	for k := uint64(1); k < n && no.n < len(p.members); k++ {
		i := p.slots[(start+k)%n]
		if no.has(i) {
			continue
		}
		if m := p.members[i]; eligible(info, m) {
			p.next.Add(k)
			return m, true
		}
		no.add(i)
	}
	return nil, false
}

// LeastLoaded is the "balancer.least_loaded" module: it sends each call to
// the less busy of two members drawn at random (the "power of two
// choices", as gRPC's least_request), comparing the calls the client has
// in flight on each. It needs no shared state, so it scales with cores,
// and it steers calls away from a slow master without the herding of
// always choosing the least busy one. Weights are ignored: load is what
// it balances.
//
//	{"module": "least_loaded"}
//
// A Pick costs one random number, two Eligible calls and two InFlight
// reads when members are eligible (one member: one of each). To find
// eligible ones it makes up to four random draws of two, then scans from
// a random start, so it makes at most about len(members)+8 Eligible calls
// when few or none are eligible. Ties go to the first drawn. It allocates
// nothing.
type LeastLoaded struct{}

// FastRpcModule implements module.Module.
func (LeastLoaded) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: balancerID("least_loaded"), New: func() module.Module { return new(LeastLoaded) }}
}

// Build implements Balancer.
func (LeastLoaded) Build(members []Member) Picker {
	if len(members) == 0 {
		return nonePicker{}
	}
	return &p2cPicker{members: slices.Clone(members)}
}

// p2cPicker is LeastLoaded's Picker.
type p2cPicker struct {
	members []Member
}

// Pick implements Picker.
func (p *p2cPicker) Pick(info PickInfo) (Member, bool) {
	n := uint64(len(p.members))
	if n == 1 {
		if m := p.members[0]; eligible(&info, m) {
			return m, true
		}
		return nil, false
	}
	first := -1 // the first eligible member drawn
	for range randomDraws {
		// Two distinct members from one random number: i uniform over
		// n, j over the n-1 others (n is far below 2^32).
		r := rand.Uint64()
		i := int((r & math.MaxUint32) * n >> 32)
		j := int((r >> 32) * (n - 1) >> 32)
		if j >= i {
			j++
		}
		for _, k := range [2]int{i, j} {
			if k == first || !eligible(&info, p.members[k]) {
				continue
			}
			if first < 0 {
				first = k
				continue
			}
			return p.lessLoaded(first, k), true
		}
	}
	start := int(rand.Uint64() % n)
	for d := range int(n) {
		k := (start + d) % int(n)
		if k == first || !eligible(&info, p.members[k]) {
			continue
		}
		if first < 0 {
			first = k
			continue
		}
		return p.lessLoaded(first, k), true
	}
	if first >= 0 {
		return p.members[first], true
	}
	return nil, false
}

// lessLoaded returns the member of a and b with fewer calls in flight, a
// on a tie.
func (p *p2cPicker) lessLoaded(a, b int) Member {
	ma, mb := p.members[a], p.members[b]
	if mb.InFlight() < ma.InFlight() {
		return mb
	}
	return ma
}

// ConsistentHash is the "balancer.consistent_hash" module: a ring hash
// (as gRPC's ring_hash and Envoy's), which sends the calls with the same
// affinity key (WithKey) to the same member while it is eligible, so a
// master's caches see the keys they hold. Adding or removing a member
// moves only about 1/N of the keys, and clients built over the same
// members agree on every key's member, whatever order they list them in:
// the ring depends only on the members' addresses and weights.
//
//	{"module": "consistent_hash", "replicas": 100}
//
// Build puts Replicas points per unit of weight for each member on a ring
// of 64-bit hashes: point i of the member at address a hashes a + "#" + i
// (decimal) with FNV-1a 64 followed by the splitmix64 finalizer. A ring
// that would pass 2^18 points is scaled down to that, each member keeping
// at least one point (its keys then move more than 1/N). Pick hashes the
// key the same way, binary-searches the ring and walks clockwise to the
// first point of an eligible member: a key whose member is not eligible
// goes to the next member clockwise, and comes back when it is again. A
// call with no key goes to a random eligible member.
//
// A Pick costs hashing the key, a binary search of the ring
// (log2(Replicas × total weight) steps: 15 for 300 members of 100 points)
// and one Eligible call when the key's member is eligible; walking past
// ineligible ones asks each member once, about N ln N points of the walk
// when none is. It allocates nothing.
type ConsistentHash struct {
	// Replicas is how many points per unit of weight each member has on
	// the ring; 0 means 100. More spread the keys more evenly (the share
	// of a member varies by about 1/√Replicas of itself) and cost memory
	// (12 bytes each) and build time.
	Replicas int `json:"replicas,omitempty"`
}

// defaultReplicas is ConsistentHash's Replicas when unset; maxReplicas is
// the most Validate allows; maxRingPoints is the size a ring is scaled
// down to.
const (
	defaultReplicas = 100
	maxReplicas     = 10000
	maxRingPoints   = 1 << 18
)

// FastRpcModule implements module.Module.
func (ConsistentHash) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: balancerID("consistent_hash"), New: func() module.Module { return new(ConsistentHash) }}
}

// Validate checks Replicas.
func (c ConsistentHash) Validate() error {
	if c.Replicas < 0 {
		return fmt.Errorf("replicas %d: negative; use 0 for the default (%d) or a count of points per unit of weight", c.Replicas, defaultReplicas)
	}
	if c.Replicas > maxReplicas {
		return fmt.Errorf("replicas %d: more than %d points per unit of weight", c.Replicas, maxReplicas)
	}
	return nil
}

// Build implements Balancer. A Replicas that Validate would refuse is
// taken as the default.
func (c ConsistentHash) Build(members []Member) Picker {
	if len(members) == 0 {
		return nonePicker{}
	}
	replicas := c.Replicas
	if c.Validate() != nil || replicas == 0 {
		replicas = defaultReplicas
	}
	members = slices.Clone(members)
	total := 0.0
	for _, m := range members {
		total += float64(replicas) * float64(weightOf(m))
	}
	scale := min(1, maxRingPoints/total)
	counts := make([]int, len(members))
	for i, m := range members {
		counts[i] = max(1, int(float64(replicas)*float64(weightOf(m))*scale))
	}
	type point struct {
		hash  uint64
		owner int32
		i     int // the point's number for its owner
	}
	var ring []point
	var buf []byte
	for o, m := range members {
		buf = append(append(buf[:0], m.Address()...), '#')
		n := len(buf)
		for i := range counts[o] {
			buf = strconv.AppendInt(buf[:n], int64(i), 10)
			ring = append(ring, point{ringHash(buf), int32(o), i})
		}
	}
	// Ties (two points of one hash) go by address then point number, so
	// the order of members does not matter.
	slices.SortFunc(ring, func(a, b point) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 || a.owner == b.owner {
			return cmp.Or(c, cmp.Compare(a.i, b.i))
		}
		return cmp.Or(strings.Compare(members[a.owner].Address(), members[b.owner].Address()),
			cmp.Compare(a.i, b.i), cmp.Compare(a.owner, b.owner))
	})
	p := &ringPicker{members: members, hashes: make([]uint64, len(ring)), owners: make([]int32, len(ring))}
	for j, pt := range ring {
		p.hashes[j], p.owners[j] = pt.hash, pt.owner
	}
	return p
}

// ringPicker is ConsistentHash's Picker.
type ringPicker struct {
	members []Member
	hashes  []uint64 // the ring's points, sorted
	owners  []int32  // index in members of each point's member
}

// Pick implements Picker.
func (p *ringPicker) Pick(info PickInfo) (Member, bool) {
	if info.Key == "" {
		return randomEligible(p.members, &info)
	}
	at, _ := slices.BinarySearch(p.hashes, ringHash(info.Key))
	if at == len(p.hashes) {
		at = 0
	}
	if m := p.members[p.owners[at]]; eligible(&info, m) {
		return m, true
	}
	return p.walk(&info, at)
}

// walk goes clockwise from point at, whose member is not eligible, to the
// first point of an eligible member.
func (p *ringPicker) walk(info *PickInfo, at int) (Member, bool) {
	var no seen
	no.add(p.owners[at])
	n := len(p.hashes)
	for k := 1; k < n && no.n < len(p.members); k++ {
		o := p.owners[(at+k)%n]
		if no.has(o) {
			continue
		}
		if m := p.members[o]; eligible(info, m) {
			return m, true
		}
		no.add(o)
	}
	return nil, false
}

// ringHash is the 64-bit FNV-1a hash of s followed by the splitmix64
// finalizer, which spreads FNV's poorly mixed high bits over the ring.
// Every client computes the same ring from it: it must never change.
func ringHash[S string | []byte](s S) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime64
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
