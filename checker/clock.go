package checker

import (
	"cmp"
	"slices"

	"github.com/lockbench/lockbench/history"
)

// clocks is what a history's clock events say: which agent's clock each
// process runs on and how uncertain its times are. The zero value is a
// history without clock events: every process on the recorder's clock,
// exactly.
type clocks struct {
	// target is the agent named by each process's first clock event; a
	// process without one runs on the recorder's clock ("").
	target map[int]string
	// procEps and targetEps are the largest uncertainty (ns) of each
	// process's own clock events and of each agent's.
	procEps   map[int]int64
	targetEps map[string]int64
	// max is the largest uncertainty of any clock event: 0 means the
	// history's times are exact and the check takes no clock into account.
	max int64
}

// sample takes one clock event.
func (c *clocks) sample(e *history.Event) {
	if c.target == nil {
		c.target = make(map[int]string)
		c.procEps = make(map[int]int64)
		c.targetEps = make(map[string]int64)
	}
	if _, ok := c.target[e.Process]; !ok {
		c.target[e.Process] = e.Target
	}
	c.procEps[e.Process] = max(c.procEps[e.Process], e.Uncertainty)
	c.targetEps[e.Target] = max(c.targetEps[e.Target], e.Uncertainty)
	c.max = max(c.max, e.Uncertainty)
}

// eps is process p's uncertainty ε(p), ns: the largest of its own clock
// events and of its agent's (a re-measurement of the agent after p
// crashed covers p too); 0 on the recorder's clock.
func (c *clocks) eps(p int) int64 {
	t, ok := c.target[p]
	if !ok {
		return 0
	}
	return max(c.procEps[p], c.targetEps[t])
}

// shared reports that processes p and q run on one clock (the same agent,
// or both on the recorder's): their relative times are exact.
func (c *clocks) shared(p, q int) bool { return c.target[p] == c.target[q] }

// widened is the digest of the certain check: every interval of a process
// widened by its uncertainty ε, so that whatever the clock errors were
// (within their bounds) the true intervals lie inside the widened ones.
// An operation [call, return] becomes [call−ε, return+ε]; a belief [ok,
// end) — a time its process certainly believed — shrinks to [ok+ε, end−ε)
// and becomes empty when that is (no owner operation, like a belief
// expired on arrival); deadline, crash, failed-extend and release ends
// move ε earlier; a lease (when the store certainly still held the key)
// ε earlier. The end of the history is the recorder's and stays. Belief,
// release and write ids are those of d, re-sorted where the checks rely
// on their order (beliefs by ok, releases by invoke, writes by ok). What
// the liveness checks read (waits, grants, faults, progress) is shared
// with d: they keep the recorded times.
func (d *digest) widened() *digest {
	c := *d
	c.certain = true
	cl := &d.clocks
	c.beliefs = slices.Clone(d.beliefs)
	for i := range c.beliefs {
		b := &c.beliefs[i]
		e := cl.eps(b.proc)
		if e == 0 {
			continue
		}
		b.inv -= e
		b.ok += e
		if b.kind != endHistory {
			b.end -= e
		}
		if b.kind == endRelease && b.relRet != d.end {
			b.relRet += e
		}
		if b.lease != 0 {
			b.lease -= e
		}
		if b.deadline != 0 {
			b.deadline -= e
		}
	}
	c.keyBeliefs = make([][]int32, len(d.keyBeliefs))
	for k, ids := range d.keyBeliefs {
		ids = slices.Clone(ids)
		slices.SortStableFunc(ids, func(x, y int32) int { return cmp.Compare(c.beliefs[x].ok, c.beliefs[y].ok) })
		c.keyBeliefs[k] = ids
	}
	c.releases = make([][]release, len(d.releases))
	for k, rs := range d.releases {
		rs = slices.Clone(rs)
		for i := range rs {
			r := &rs[i]
			e := cl.eps(r.proc)
			r.inv -= e
			if r.ret >= 0 && r.ret != d.end {
				r.ret += e
			}
			if r.lease != 0 {
				r.lease -= e
			}
		}
		slices.SortStableFunc(rs, func(x, y release) int { return cmp.Compare(x.inv, y.inv) })
		c.releases[k] = rs
	}
	c.releaseMaxRet = make([][]int64, len(d.keys))
	c.writes = make([][]write, len(d.writes))
	for r, ws := range d.writes {
		ws = slices.Clone(ws)
		for i := range ws {
			w := &ws[i]
			e := cl.eps(w.proc)
			w.inv -= e
			w.rmwStart -= e
			w.ok += e
		}
		slices.SortStableFunc(ws, func(x, y write) int { return cmp.Compare(x.ok, y.ok) })
		c.writes[r] = ws
	}
	return &c
}

// sharedClockOverlaps runs the overlap scan of key k over each clock's
// beliefs on their own (recorded times): an overlap between two processes
// on one clock is exact, whatever that clock's uncertainty against the
// recorder's. It returns the scan whose overlap came first, with the
// overlaps of every clock counted.
func sharedClockOverlaps(d *digest, k int32) keyScan {
	s := keyScan{first: -1, second: -1, fenceEarlier: -1, fenceLater: -1}
	byClock := map[string][]int32{}
	for _, id := range d.keyBeliefs[k] {
		t := d.clocks.target[d.beliefs[id].proc]
		byClock[t] = append(byClock[t], id)
	}
	for _, ids := range byClock {
		if len(ids) < 2 {
			continue
		}
		g := keyScan{first: -1, second: -1, fenceEarlier: -1, fenceLater: -1}
		scanOverlapIDs(d, ids, &g)
		if g.overlaps == 0 {
			continue
		}
		if s.overlaps == 0 || d.beliefs[g.second].ok < d.beliefs[s.second].ok ||
			d.beliefs[g.second].ok == d.beliefs[s.second].ok && g.second < s.second {
			s.first, s.second = g.first, g.second
		}
		s.overlaps += g.overlaps
		for c, n := range g.causes {
			s.causes[c] += n
		}
	}
	return s
}
