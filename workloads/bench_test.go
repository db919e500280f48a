package workloads

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/internal/cpuset"
)

// BenchmarkTokenUncontended runs the uncontended preset with the token
// lock, once with every event recorded to a history file and once with
// recording off, so the recorder's cost shows as a ratio of cycles/s from
// one run (issue 4's target: recording costs ≤ 5 %). resource=off is what
// bench calibrate times as "the harness": a cycle is then exactly a token
// acquire and release, on one node; run it with -cpu 2,1 to see what the
// harness's GOMAXPROCS does to it. pin=on is that case with the lock node
// on the last CPU and the benchmark on the others, as bench calibrate runs
// it (compare with benchstat -col /pin).
func BenchmarkTokenUncontended(b *testing.B) {
	r := newRigTB(b)
	for _, c := range []struct {
		name                     string
		recording, resource, pin bool
	}{
		{"recording=off", false, true, false},
		{"recording=on", true, true, false},
		{"recording=on/resource=off/pin=off", true, false, false},
		{"recording=on/resource=off/pin=on", true, false, true},
	} {
		recording := c.recording
		spec, _ := Preset("uncontended")
		spec.Clients, spec.Duration, spec.SkipResource = 4, 0, !c.resource
		b.Run(c.name, func(b *testing.B) {
			if c.pin {
				pinApart(b, r.c.Nodes[0])
			}
			env := r.env(b, "token", nil)
			var w *history.Writer
			if recording {
				var err error
				if w, err = history.Open(filepath.Join(b.TempDir(), "history.jsonl")); err != nil {
					b.Fatal(err)
				}
				env.NewRecorder = func() Recorder { return w.Stream() }
			}
			spec.Ops = b.N
			b.ResetTimer()
			res, err := Run(context.Background(), spec, env)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if w != nil {
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			if res.Counts.AcquireOK != int64(b.N) {
				b.Fatalf("%d of %d acquires succeeded uncontended", res.Counts.AcquireOK, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
		})
	}
}

// pinApart puts node on the last CPU and this process on the others until
// b ends.
func pinApart(b *testing.B, node cluster.Node) {
	all, err := cpuset.Allowed(0)
	if err != nil {
		b.Fatal(err)
	}
	if len(all) < 2 {
		b.Skip("one CPU: nothing to pin apart")
	}
	p, ok := node.(interface {
		PinCPUs(context.Context, []int) error
	})
	if !ok {
		b.Fatalf("node %s cannot be pinned", node.Name())
	}
	if err := p.PinCPUs(context.Background(), all[len(all)-1:]); err != nil {
		b.Fatal(err)
	}
	unpin, err := cpuset.PinSelf(all[:len(all)-1])
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := unpin(); err != nil {
			b.Error(err)
		}
		if err := p.PinCPUs(context.Background(), all); err != nil {
			b.Error(err)
		}
	})
}
