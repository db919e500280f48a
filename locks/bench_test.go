package locks_test

import (
	"context"
	"github.com/lockbench/lockbench/locks"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkAcquireRelease measures acquire+release cycles per second on an
// uncontended key, straight to the nodes (no proxy), for every strategy,
// beside a bare go-redis loop doing what one token cycle costs (SET NX PX,
// then the compare-and-delete script) so the strategies' overhead shows as
// a ratio from one run.
func BenchmarkAcquireRelease(b *testing.B) {
	f := newFixture(b, 5)
	ctx := context.Background()
	const ttl = 10 * time.Second
	cycles := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
	}
	b.Run("bare-go-redis-SET+EVAL", func(b *testing.B) {
		c := redis.NewClient(f.c.Nodes[0].Endpoint().ClientOptions(""))
		defer c.Close()
		key := "bench:bare"
		for b.Loop() {
			if err := c.SetNX(ctx, key, "t", ttl).Err(); err != nil {
				b.Fatal(err)
			}
			if err := locks.ReleaseScript.Run(ctx, c, []string{key}, "t").Err(); err != nil {
				b.Fatal(err)
			}
		}
		cycles(b)
	})
	for _, name := range strategies(all) {
		b.Run(name, func(b *testing.B) {
			l := f.locker(b, name, "", locks.Config{Nodes: f.direct()})
			key := "bench:" + name
			for b.Loop() {
				lease, err := l.Acquire(ctx, key, ttl)
				if err != nil {
					b.Fatal(err)
				}
				if err := lease.Release(ctx); err != nil {
					b.Fatal(err)
				}
			}
			cycles(b)
		})
	}
}
