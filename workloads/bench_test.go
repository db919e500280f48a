package workloads

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lockbench/lockbench/history"
)

// BenchmarkTokenUncontended runs the uncontended preset with the token
// lock, once with every event recorded to a history file and once with
// recording off, so the recorder's cost shows as a ratio of cycles/s from
// one run (issue 4's target: recording costs ≤ 5 %).
func BenchmarkTokenUncontended(b *testing.B) {
	r := newRigTB(b)
	spec, _ := Preset("uncontended")
	spec.Clients = 4
	spec.Duration = 0
	for _, recording := range []bool{false, true} {
		name := "recording=off"
		if recording {
			name = "recording=on"
		}
		b.Run(name, func(b *testing.B) {
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
