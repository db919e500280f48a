package checker

import (
	"testing"
	"pgregory.net/rapid"
)

func TestTmpStats(t *testing.T) {
	var n, maxN, empty, viol, msg int
	rapid.Check(t, func(rt *rapid.T) {
		ev := simulate(drawSim(rt))
		n += len(ev)
		maxN = max(maxN, len(ev))
		if len(ev) == 0 { empty++ }
		m := drawMessy(rt)
		if len(m) > 0 {
			d := digestEvents(m, 5e9)
			for k := range d.keys { if s := scanKey(d, int32(k)); s.violated() { viol++ }; msg++ }
		}
	})
	t.Logf("avg events %d max %d empty %d; messy keys %d violated %d", n/100, maxN, empty, msg, viol)
}
