package cluster_test

import (
	"strconv"
	"testing"

	"github.com/AmanTrance/FastRpc/cluster"
)

// BenchmarkPick measures one Pick of each balancer over n members, all
// eligible, with a key (consistent_hash hashes it; the others ignore it).
// BenchmarkPickParallel does the same from GOMAXPROCS goroutines at once.
func BenchmarkPick(b *testing.B) {
	benchPick(b, func(b *testing.B, p cluster.Picker, ks []string) {
		info := cluster.PickInfo{Method: "get", Eligible: all}
		i := 0
		for b.Loop() {
			info.Key = ks[i&(len(ks)-1)]
			i++
			if _, ok := p.Pick(info); !ok {
				b.Fatal("no member picked")
			}
		}
	})
}

func BenchmarkPickParallel(b *testing.B) {
	benchPick(b, func(b *testing.B, p cluster.Picker, ks []string) {
		b.RunParallel(func(pb *testing.PB) {
			info := cluster.PickInfo{Method: "get", Eligible: all}
			i := 0
			for pb.Next() {
				info.Key = ks[i&(len(ks)-1)]
				i++
				if _, ok := p.Pick(info); !ok {
					b.Error("no member picked")
					return
				}
			}
		})
	})
}

func benchPick(b *testing.B, run func(*testing.B, cluster.Picker, []string)) {
	ks := make([]string, 1024) // a power of two
	for i := range ks {
		ks[i] = "user:" + strconv.Itoa(i)
	}
	for _, bal := range balancers {
		b.Run(bal.name, func(b *testing.B) {
			for _, n := range []int{3, 30, 300} {
				b.Run(strconv.Itoa(n), func(b *testing.B) {
					ms := fakeMembers(n)
					for i, m := range ms {
						m.(*fakeMember).inFlight.Store(int64(i % 7))
					}
					p := bal.b.Build(ms)
					b.ReportAllocs()
					run(b, p, ks)
				})
			}
		})
	}
}
