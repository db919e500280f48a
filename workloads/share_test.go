package workloads

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestSharesMergeAsOneRun runs a workload's workers in two shares, as two
// agents would, sends each through JSON, and merges them: every count,
// every histogram's total and the per-second counters add up, the run
// takes the longer share's time, and the lost updates counted from the
// resource are none for a correct lock.
func TestSharesMergeAsOneRun(t *testing.T) {
	r := newRig(t)
	env := r.env(t, "token", nil)
	spec, err := Preset("hot-key")
	if err != nil {
		t.Fatal(err)
	}
	spec.Clients, spec.Duration = 4, 600*time.Millisecond
	ctx := context.Background()
	if err := Prepare(ctx, spec, env); err != nil {
		t.Fatal(err)
	}
	type out struct {
		s   *Share
		err error
	}
	done := make(chan out, 2)
	for _, workers := range [][]int{{0, 2}, {1, 3}} {
		go func() {
			s, err := RunShare(ctx, spec, env, workers)
			done <- out{s, err}
		}()
	}
	var shares []*Share
	for range 2 {
		o := <-done
		if o.err != nil {
			t.Fatal(o.err)
		}
		b, err := json.Marshal(o.s)
		if err != nil {
			t.Fatal(err)
		}
		var back Share
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Counts != o.s.Counts || back.hists[HistAcquireOK].TotalCount() != o.s.hists[HistAcquireOK].TotalCount() || len(back.secondHists) != len(o.s.secondHists) {
			t.Fatalf("a share changed on its way through JSON: %+v, then %+v", o.s.Counts, back.Counts)
		}
		if o.s.Counts.AcquireOK == 0 {
			t.Fatalf("a share made no progress: %+v", o.s.Counts)
		}
		shares = append(shares, &back)
	}
	res := Merge(spec, shares...)
	if err := res.CountLostUpdates(ctx, env.Resources[0], env.KeyPrefix); err != nil {
		t.Fatal(err)
	}
	want := shares[0].Counts
	want.add(&shares[1].Counts)
	if res.Counts != want {
		t.Errorf("merged counts %+v, want %+v", res.Counts, want)
	}
	if got := res.Hists[HistAcquireOK].TotalCount(); got != want.AcquireOK {
		t.Errorf("merged acquire histogram holds %d, the counts %d", got, want.AcquireOK)
	}
	var perSecond int64
	for _, s := range res.Seconds {
		perSecond += s.AcquireOK
	}
	if perSecond != want.AcquireOK || res.Seconds[0].P99us == 0 {
		t.Errorf("per-second acquires add up to %d of %d (p99 of second 0: %d µs)", perSecond, want.AcquireOK, res.Seconds[0].P99us)
	}
	if res.Elapsed != max(shares[0].Elapsed, shares[1].Elapsed) || res.Throughput <= 0 {
		t.Errorf("elapsed %v (shares %v, %v), throughput %v", res.Elapsed, shares[0].Elapsed, shares[1].Elapsed, res.Throughput)
	}
	if res.LostUpdates != 0 {
		t.Errorf("token lost %d updates", res.LostUpdates)
	}
	if _, err := RunShare(ctx, spec, env, []int{4}); err == nil {
		t.Error("a share with worker 4 of 4 clients ran")
	}
}
