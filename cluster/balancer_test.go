package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/module"
)

// fakeMember is a Member whose load a test sets.
type fakeMember struct {
	addr     string
	weight   int
	inFlight atomic.Int64
}

func (m *fakeMember) Address() string { return m.addr }
func (m *fakeMember) Weight() int     { return m.weight }
func (m *fakeMember) InFlight() int64 { return m.inFlight.Load() }

// fakeMembers returns n members of weight 1, at "10.0.0.<i>:10000".
func fakeMembers(n int) []cluster.Member {
	ms := make([]cluster.Member, n)
	for i := range ms {
		ms[i] = &fakeMember{addr: fmt.Sprintf("10.0.0.%d:10000", i), weight: 1}
	}
	return ms
}

// weighted returns one member per weight, at "m<i>".
func weighted(ws ...int) []cluster.Member {
	ms := make([]cluster.Member, len(ws))
	for i, w := range ws {
		ms[i] = &fakeMember{addr: "m" + strconv.Itoa(i), weight: w}
	}
	return ms
}

// all lets every member take the call.
func all(cluster.Member) bool { return true }

// except lets every member but those listed take the call.
func except(out ...cluster.Member) func(cluster.Member) bool {
	return func(m cluster.Member) bool { return !slices.Contains(out, m) }
}

// mustPick picks and fails the test when no member is returned.
func mustPick(t testing.TB, p cluster.Picker, info cluster.PickInfo) cluster.Member {
	t.Helper()
	m, ok := p.Pick(info)
	require.True(t, ok, "no member picked")
	require.NotNil(t, m)
	return m
}

// countPicks picks n times and counts the picks of each member.
func countPicks(t testing.TB, p cluster.Picker, n int, info cluster.PickInfo) map[cluster.Member]int {
	t.Helper()
	got := map[cluster.Member]int{}
	for range n {
		got[mustPick(t, p, info)]++
	}
	return got
}

var balancers = []struct {
	name string
	b    cluster.Balancer
}{
	{"round_robin", cluster.RoundRobin{}},
	{"least_loaded", cluster.LeastLoaded{}},
	{"consistent_hash", cluster.ConsistentHash{}},
}

func TestBalancersCommonContract(t *testing.T) {
	for _, tc := range balancers {
		t.Run(tc.name, func(t *testing.T) {
			// An empty Build never panics and never picks.
			for _, ms := range [][]cluster.Member{nil, {}} {
				p := tc.b.Build(ms)
				m, ok := p.Pick(cluster.PickInfo{Key: "k", Eligible: all})
				assert.False(t, ok)
				assert.Nil(t, m)
			}
			ms := fakeMembers(5)
			p := tc.b.Build(ms)
			// None eligible: (nil, false), with and without a key.
			for _, key := range []string{"", "k"} {
				m, ok := p.Pick(cluster.PickInfo{Key: key, Eligible: func(cluster.Member) bool { return false }})
				assert.False(t, ok)
				assert.Nil(t, m)
			}
			// One eligible: always it.
			for i := range 50 {
				only := ms[i%len(ms)]
				info := cluster.PickInfo{Key: strconv.Itoa(i), Eligible: func(m cluster.Member) bool { return m == only }}
				assert.Same(t, only, mustPick(t, p, info))
				info.Key = ""
				assert.Same(t, only, mustPick(t, p, info))
			}
			// A nil Eligible lets every member.
			mustPick(t, p, cluster.PickInfo{Key: "k"})
			// One member.
			one := fakeMembers(1)
			assert.Same(t, one[0], mustPick(t, tc.b.Build(one), cluster.PickInfo{Key: "k", Eligible: all}))
			// The picker does not keep the caller's slice.
			ms2 := fakeMembers(3)
			p2 := tc.b.Build(ms2)
			orig := slices.Clone(ms2)
			ms2[0], ms2[1], ms2[2] = nil, nil, nil
			assert.Contains(t, orig, mustPick(t, p2, cluster.PickInfo{Key: "k", Eligible: all}))
		})
	}
}

func TestBalancersConcurrentPicks(t *testing.T) {
	for _, tc := range balancers {
		t.Run(tc.name, func(t *testing.T) {
			ms := fakeMembers(7)
			p := tc.b.Build(ms)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out := ms[g%len(ms)]
					for i := range 2000 {
						m, ok := p.Pick(cluster.PickInfo{Key: strconv.Itoa(i % 3), Eligible: except(out)})
						if !ok || m == out || m == nil {
							t.Errorf("goroutine %d: picked %v, %v", g, m, ok)
							return
						}
						m.(*fakeMember).inFlight.Add(1)
						m.(*fakeMember).inFlight.Add(-1)
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 30} {
		ms := fakeMembers(n)
		p := cluster.RoundRobin{}.Build(ms)
		const k = 20
		got := countPicks(t, p, k*n, cluster.PickInfo{Eligible: all})
		for _, m := range ms {
			assert.InDelta(t, k, got[m], 1, "n=%d %s", n, m.Address())
		}
		// In turn: n consecutive picks hit n distinct members.
		seen := map[cluster.Member]bool{}
		for range n {
			seen[mustPick(t, p, cluster.PickInfo{Eligible: all})] = true
		}
		assert.Len(t, seen, n)
	}
}

func TestRoundRobinSkipsIneligible(t *testing.T) {
	ms := fakeMembers(6)
	p := cluster.RoundRobin{}.Build(ms)
	// Members 1 and 2 (adjacent) are out: the four others share evenly;
	// member 3, after them, gets no more than its share.
	info := cluster.PickInfo{Eligible: except(ms[1], ms[2])}
	const k = 50
	got := countPicks(t, p, k*4, info)
	assert.Zero(t, got[ms[1]])
	assert.Zero(t, got[ms[2]])
	for _, i := range []int{0, 3, 4, 5} {
		assert.InDelta(t, k, got[ms[i]], 1, "member %d: %v", i, got)
	}
	// Back in: all six share again.
	got = countPicks(t, p, k*6, cluster.PickInfo{Eligible: all})
	for i, m := range ms {
		assert.InDelta(t, k, got[m], 1, "member %d", i)
	}
}

func TestRoundRobinWeights(t *testing.T) {
	t.Run("proportional", func(t *testing.T) {
		ms := weighted(1, 2, 3, 0) // 0 means 1
		p := cluster.RoundRobin{}.Build(ms)
		got := countPicks(t, p, 7*100, cluster.PickInfo{Eligible: all})
		assert.Equal(t, []int{100, 200, 300, 100}, []int{got[ms[0]], got[ms[1]], got[ms[2]], got[ms[3]]})
	})
	t.Run("interleaved", func(t *testing.T) {
		ms := weighted(1, 1, 4)
		p := cluster.RoundRobin{}.Build(ms)
		// The heavy member never takes more than 3 picks in a row (a
		// block table would give it 4), and the light ones are apart.
		run, longest := 0, 0
		var prev cluster.Member
		for range 600 {
			m := mustPick(t, p, cluster.PickInfo{Eligible: all})
			if m == ms[2] {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
			if prev != nil && prev != ms[2] {
				assert.Same(t, ms[2], m, "light members back to back")
			}
			prev = m
		}
		assert.LessOrEqual(t, longest, 3)
	})
	t.Run("common divisor", func(t *testing.T) {
		ms := weighted(20, 40)
		p := cluster.RoundRobin{}.Build(ms)
		got := countPicks(t, p, 300, cluster.PickInfo{Eligible: all})
		assert.Equal(t, 100, got[ms[0]])
		assert.Equal(t, 200, got[ms[1]])
	})
	t.Run("capped at 64 slots", func(t *testing.T) {
		ms := weighted(1, 1000, 500)
		p := cluster.RoundRobin{}.Build(ms)
		// 1000 and 500 scale to 64 and 32; 1 stays 1: 97 slots.
		got := countPicks(t, p, 97*10, cluster.PickInfo{Eligible: all})
		assert.Equal(t, []int{10, 640, 320}, []int{got[ms[0]], got[ms[1]], got[ms[2]]})
	})
	t.Run("heavy member out", func(t *testing.T) {
		ms := weighted(1, 1, 8)
		p := cluster.RoundRobin{}.Build(ms)
		got := countPicks(t, p, 1000, cluster.PickInfo{Eligible: except(ms[2])})
		assert.Zero(t, got[ms[2]])
		assert.InDelta(t, 500, got[ms[0]], 50, "%v", got)
		assert.InDelta(t, 500, got[ms[1]], 50, "%v", got)
	})
}

func TestLeastLoadedPrefersIdle(t *testing.T) {
	ms := fakeMembers(2)
	ms[1].(*fakeMember).inFlight.Store(100)
	p := cluster.LeastLoaded{}.Build(ms)
	got := countPicks(t, p, 1000, cluster.PickInfo{Eligible: all})
	// With two members both are always drawn: the idle one always wins.
	assert.Equal(t, 1000, got[ms[0]])

	// With ten, one busy: it loses every draw, so it is never picked.
	ms = fakeMembers(10)
	busy := ms[3].(*fakeMember)
	busy.inFlight.Store(50)
	p = cluster.LeastLoaded{}.Build(ms)
	got = countPicks(t, p, 5000, cluster.PickInfo{Eligible: all})
	assert.Zero(t, got[busy])
	for i, m := range ms {
		if m != busy {
			assert.InDelta(t, 5000/9, got[m], 150, "member %d", i)
		}
	}

	// Graded loads: the less loaded get more. The least loaded member
	// (load 0) wins whenever drawn, ~2/n of the picks (= 40% of 5).
	ms = fakeMembers(5)
	for i, m := range ms {
		m.(*fakeMember).inFlight.Store(int64(i * 10))
	}
	p = cluster.LeastLoaded{}.Build(ms)
	got = countPicks(t, p, 10000, cluster.PickInfo{Eligible: all})
	assert.InDelta(t, 4000, got[ms[0]], 300)
	assert.Zero(t, got[ms[4]], "the busiest never beats another")
	for i := 1; i < len(ms); i++ {
		assert.Greater(t, got[ms[i-1]], got[ms[i]], "%v", got)
	}
}

func TestLeastLoadedNeverPicksIneligible(t *testing.T) {
	ms := fakeMembers(20)
	// The idle ones are out: the loaded ones share.
	for i, m := range ms {
		m.(*fakeMember).inFlight.Store(int64(i % 2 * 5))
	}
	eligible := func(m cluster.Member) bool { return m.InFlight() > 0 }
	p := cluster.LeastLoaded{}.Build(ms)
	got := countPicks(t, p, 5000, cluster.PickInfo{Eligible: eligible})
	for i, m := range ms {
		if i%2 == 0 {
			assert.Zero(t, got[m], "member %d", i)
		} else {
			assert.InDelta(t, 500, got[m], 150, "member %d", i)
		}
	}
	// Only two of 300 eligible: found by the scan, the less loaded wins.
	ms = fakeMembers(300)
	a, b := ms[17].(*fakeMember), ms[250].(*fakeMember)
	a.inFlight.Store(3)
	b.inFlight.Store(1)
	p = cluster.LeastLoaded{}.Build(ms)
	for range 200 {
		assert.Same(t, b, mustPick(t, p, cluster.PickInfo{Eligible: func(m cluster.Member) bool { return m == a || m == b }}))
	}
	// Tie: either, both seen.
	b.inFlight.Store(3)
	got = countPicks(t, p, 400, cluster.PickInfo{Eligible: func(m cluster.Member) bool { return m == a || m == b }})
	assert.Equal(t, 400, got[a]+got[b])
	assert.Positive(t, got[a])
	assert.Positive(t, got[b])
}

// keys returns n affinity keys.
func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "user:" + strconv.Itoa(i)
	}
	return ks
}

// owners returns the member each key goes to.
func owners(t testing.TB, p cluster.Picker, ks []string, eligible func(cluster.Member) bool) map[string]string {
	t.Helper()
	out := make(map[string]string, len(ks))
	for _, k := range ks {
		out[k] = mustPick(t, p, cluster.PickInfo{Key: k, Eligible: eligible}).Address()
	}
	return out
}

func TestConsistentHashSameKeySameMember(t *testing.T) {
	ms := fakeMembers(10)
	ks := keys(2000)
	p := cluster.ConsistentHash{}.Build(ms)
	first := owners(t, p, ks, all)
	assert.Equal(t, first, owners(t, p, ks, all), "same picker")
	// Another client (a new Build, members listed in another order, new
	// Member values) agrees on every key.
	other := fakeMembers(10)
	slices.Reverse(other)
	assert.Equal(t, first, owners(t, cluster.ConsistentHash{Replicas: 100}.Build(other), ks, all), "another build")
	// Load does not matter.
	for _, m := range ms {
		m.(*fakeMember).inFlight.Store(int64(len(m.Address())))
	}
	assert.Equal(t, first, owners(t, p, ks, all))
}

// refOwner is the ring of ConsistentHash as documented, built the slow
// way with hash/fnv: Replicas points per unit of weight at FNV-1a-64 of
// address#i followed by the splitmix64 finalizer; a key goes to the first
// point at or after its hash, wrapping.
func refOwner(ms []cluster.Member, replicas int, key string) string {
	mix := func(s string) uint64 {
		f := fnv.New64a()
		f.Write([]byte(s))
		h := f.Sum64()
		h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
		h = (h ^ h>>27) * 0x94d049bb133111eb
		return h ^ h>>31
	}
	type point struct {
		h    uint64
		addr string
	}
	var ring []point
	for _, m := range ms {
		for i := range replicas * max(1, m.Weight()) {
			ring = append(ring, point{mix(m.Address() + "#" + strconv.Itoa(i)), m.Address()})
		}
	}
	slices.SortFunc(ring, func(a, b point) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return 0
	})
	h := mix(key)
	for _, p := range ring {
		if p.h >= h {
			return p.addr
		}
	}
	return ring[0].addr
}

func TestConsistentHashMatchesDocumentedRing(t *testing.T) {
	ms := weighted(1, 2, 1, 3, 1)
	p := cluster.ConsistentHash{Replicas: 40}.Build(ms)
	for _, k := range keys(2000) {
		require.Equal(t, refOwner(ms, 40, k), mustPick(t, p, cluster.PickInfo{Key: k, Eligible: all}).Address(), "key %q", k)
	}
	// Golden owners: every client version must keep them, or slaves of
	// two versions would disagree.
	p = cluster.ConsistentHash{}.Build(fakeMembers(3))
	golden := map[string]string{}
	for _, k := range []string{"a", "b", "c", "user:1", "user:2", "order-42", "x"} {
		golden[k] = refOwner(fakeMembers(3), 100, k)
		assert.Equal(t, golden[k], mustPick(t, p, cluster.PickInfo{Key: k, Eligible: all}).Address(), "key %q", k)
	}
	assert.Equal(t, map[string]string{
		"a": "10.0.0.2:10000", "b": "10.0.0.0:10000", "c": "10.0.0.1:10000",
		"order-42": "10.0.0.2:10000", "user:1": "10.0.0.1:10000", "user:2": "10.0.0.0:10000",
		"x": "10.0.0.1:10000",
	}, golden)
}

func TestConsistentHashDistribution(t *testing.T) {
	ms := fakeMembers(10)
	ks := keys(10000)
	got := map[string]int{}
	for _, a := range owners(t, cluster.ConsistentHash{}.Build(ms), ks, all) {
		got[a]++
	}
	require.Len(t, got, 10)
	for a, n := range got {
		assert.True(t, n >= 500 && n <= 1500, "%s got %d of 10000 keys", a, n)
	}
	// Weight 3 against 1: about three times the keys.
	wm := weighted(1, 3)
	got = map[string]int{}
	for _, a := range owners(t, cluster.ConsistentHash{}.Build(wm), ks, all) {
		got[a]++
	}
	assert.InDelta(t, 7500, got["m1"], 600, "%v", got)
}

func TestConsistentHashMinimalMovement(t *testing.T) {
	ks := keys(10000)
	ms := fakeMembers(11)
	ten := owners(t, cluster.ConsistentHash{}.Build(ms[:10]), ks, all)
	eleven := owners(t, cluster.ConsistentHash{}.Build(ms), ks, all)
	moved := 0
	for _, k := range ks {
		if ten[k] != eleven[k] {
			moved++
			// A key moves only to the new member.
			assert.Equal(t, ms[10].Address(), eleven[k], "key %q", k)
		}
	}
	frac := float64(moved) / float64(len(ks))
	t.Logf("adding an 11th member moved %.1f%% of the keys", 100*frac)
	assert.True(t, frac >= 0.05 && frac <= 0.15, "moved %.3f of the keys", frac)

	// Removing member 4: only its keys move.
	without := slices.Delete(slices.Clone(ms[:10]), 4, 5)
	nine := owners(t, cluster.ConsistentHash{}.Build(without), ks, all)
	for _, k := range ks {
		if ten[k] != ms[4].Address() {
			assert.Equal(t, ten[k], nine[k], "key %q moved", k)
		} else {
			assert.NotEqual(t, ms[4].Address(), nine[k])
		}
	}
}

func TestConsistentHashIneligibleOwner(t *testing.T) {
	ms := fakeMembers(10)
	ks := keys(3000)
	p := cluster.ConsistentHash{}.Build(ms)
	before := owners(t, p, ks, all)
	out := ms[6]
	// Out of the call: its keys go to the next member clockwise, which is
	// where a ring without it puts them; the other keys stay.
	without := owners(t, cluster.ConsistentHash{}.Build(slices.Delete(slices.Clone(ms), 6, 7)), ks, all)
	during := owners(t, p, ks, except(out))
	assert.Equal(t, without, during)
	held := 0
	for _, k := range ks {
		if before[k] == out.Address() {
			held++
			assert.NotEqual(t, out.Address(), during[k])
		} else {
			assert.Equal(t, before[k], during[k], "key %q", k)
		}
	}
	assert.Positive(t, held)
	// Eligible again: the keys come back.
	assert.Equal(t, before, owners(t, p, ks, all))

	// Several out, the last one found far around the ring.
	only := ms[2]
	for _, k := range ks[:100] {
		assert.Same(t, only, mustPick(t, p, cluster.PickInfo{Key: k, Eligible: func(m cluster.Member) bool { return m == only }}))
	}
}

func TestConsistentHashNoKeyIsRandom(t *testing.T) {
	ms := fakeMembers(5)
	p := cluster.ConsistentHash{}.Build(ms)
	got := countPicks(t, p, 5000, cluster.PickInfo{Eligible: except(ms[0])})
	assert.Zero(t, got[ms[0]])
	for _, m := range ms[1:] {
		assert.InDelta(t, 1250, got[m], 200, "%v", got)
	}
}

func TestConsistentHashBigRingIsScaled(t *testing.T) {
	// 3000 members of weight 100 at 100 points: 30M points, scaled down to
	// the cap; every member keeps points and keys still agree.
	ms := make([]cluster.Member, 3000)
	for i := range ms {
		ms[i] = &fakeMember{addr: "big" + strconv.Itoa(i), weight: 100}
	}
	p := cluster.ConsistentHash{}.Build(ms)
	ks := keys(1000)
	assert.Equal(t, owners(t, p, ks, all), owners(t, cluster.ConsistentHash{}.Build(slices.Clone(ms)), ks, all))
	only := ms[1234]
	assert.Same(t, only, mustPick(t, p, cluster.PickInfo{Key: "k", Eligible: func(m cluster.Member) bool { return m == only }}))
}

func TestPickAllocs(t *testing.T) {
	ms := fakeMembers(30)
	for _, tc := range balancers {
		p := tc.b.Build(ms)
		for _, c := range []struct {
			name string
			info cluster.PickInfo
		}{
			{"all eligible", cluster.PickInfo{Key: "user:7", Eligible: all}},
			{"no key", cluster.PickInfo{Eligible: all}},
			{"most out", cluster.PickInfo{Key: "user:7", Eligible: func(m cluster.Member) bool { return m == ms[29] }}},
			{"none", cluster.PickInfo{Key: "user:7", Eligible: func(cluster.Member) bool { return false }}},
		} {
			allocs := testing.AllocsPerRun(1000, func() { p.Pick(c.info) })
			assert.Zero(t, allocs, "%s, %s", tc.name, c.name)
		}
	}
}

func TestBalancerModules(t *testing.T) {
	l := module.NewLoader(context.Background())
	t.Cleanup(func() { _ = l.Cleanup() })
	ms := fakeMembers(4)
	for _, c := range []struct {
		cfg  string
		want any
	}{
		{`{"module": "round_robin"}`, &cluster.RoundRobin{}},
		{`{"module": "least_loaded"}`, &cluster.LeastLoaded{}},
		{`{"module": "consistent_hash"}`, &cluster.ConsistentHash{}},
		{`{"module": "consistent_hash", "replicas": 0}`, &cluster.ConsistentHash{}},
		{`{"module": "consistent_hash", "replicas": 160}`, &cluster.ConsistentHash{Replicas: 160}},
	} {
		b, err := module.LoadAs[cluster.BalancerModule](l, module.NamespaceBalancer, json.RawMessage(c.cfg))
		require.NoError(t, err, c.cfg)
		assert.Equal(t, c.want, b, c.cfg)
		assert.Equal(t, module.NamespaceBalancer, b.FastRpcModule().ID.Namespace())
		assert.Contains(t, ms, mustPick(t, b.Build(ms), cluster.PickInfo{Key: "k", Eligible: all}), c.cfg)
	}
	names := []string{}
	for _, info := range module.Namespace(module.NamespaceBalancer) {
		names = append(names, info.ID.Name())
	}
	assert.Subset(t, names, []string{"consistent_hash", "least_loaded", "round_robin"})

	for _, c := range []struct{ cfg, want string }{
		{`{"module": "consistent_hash", "replicas": -1}`, "replicas -1"},
		{`{"module": "consistent_hash", "replicas": 1000000}`, "replicas 1000000"},
		{`{"module": "consistent_hash", "replica": 10}`, "replica"},
		{`{"module": "round_robin", "weights": true}`, "weights"},
	} {
		_, err := module.LoadAs[cluster.BalancerModule](l, module.NamespaceBalancer, json.RawMessage(c.cfg))
		require.Error(t, err, c.cfg)
		assert.Contains(t, err.Error(), c.want)
	}
	assert.Error(t, cluster.ConsistentHash{Replicas: -5}.Validate())
	assert.NoError(t, cluster.ConsistentHash{Replicas: 5}.Validate())
}
