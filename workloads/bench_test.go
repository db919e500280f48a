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
// one run (issue 4's target: recording costs ≤ 5 %). resource=off is what
// bench calibrate times as "the harness": a cycle is then exactly a token
// acquire and release, on one node; run it with -cpu 2,1 to see what the
// harness's GOMAXPROCS does to it.
func BenchmarkTokenUncontended(b *testing.B) {
	r := newRigTB(b)
	for _, c := range []struct {
		name                string
		recording, resource bool
	}{
		{"recording=off", false, true},
		{"recording=on", true, true},
		{"recording=on/resource=off", true, false},
	} {
		recording := c.recording
		spec, _ := Preset("uncontended")
		spec.Clients, spec.Duration, spec.SkipResource = 4, 0, !c.resource
		b.Run(c.name, func(b *testing.B) {
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
