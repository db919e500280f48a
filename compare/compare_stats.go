package compare

import (
	"math"
	"slices"
	"sort"
)

// The rank statistics behind bench compare, besides what benchmath gives:
// the least p value a Mann-Whitney U test can reach with given sample
// sizes (to say "insufficient samples" before testing), the Hodges–Lehmann
// confidence interval of the shift between two samples (the interval that
// goes with the U test), and the Benjamini–Hochberg correction.

// uTestMinP is the least two-sided p value the exact Mann-Whitney U test
// can give for samples of n1 and n2 values: both tails of the most extreme
// arrangement, 2 / C(n1+n2, n1). Ties only make it larger.
func uTestMinP(n1, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	return math.Min(1, 2/binomial(n1+n2, n1))
}

// uTestSamplesFor is the least n for which n against n samples can reach
// a p value below alpha.
func uTestSamplesFor(alpha float64) int {
	n := 1
	for uTestMinP(n, n) >= alpha && n < 1000 {
		n++
	}
	return n
}

// binomial is C(n, k) as a float64.
func binomial(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	k = min(k, n-k)
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// uExactLimit bounds m+n for the exact U distribution; beyond it the
// normal approximation is used.
const uExactLimit = 200

// uLowerTail returns P(U ≤ u) for u = 0, 1, … under the null hypothesis
// for samples of m and n values without ties: the coefficients of the
// Gaussian binomial [m+n choose m]_q (U = u counts partitions of u into at
// most m parts no larger than n) over C(m+n, m). Only the lower half is
// returned; the distribution is symmetric.
func uLowerTail(m, n int) []float64 {
	size := m*n + 1
	// P_i = P_{i−1} · (1 − q^{n+i}) / (1 − q^i), starting from P_0 = 1.
	// The lower coefficients never go through a cancellation.
	p := make([]float64, size)
	p[0] = 1
	for i := 1; i <= m; i++ {
		for u := size - 1; u >= n+i; u-- {
			p[u] -= p[u-n-i]
		}
		for u := i; u < size; u++ {
			p[u] += p[u-i]
		}
	}
	total := binomial(m+n, m)
	half := size/2 + 1
	cdf := make([]float64, half)
	acc := 0.0
	for u := range half {
		acc += p[u]
		cdf[u] = acc / total
	}
	return cdf
}

// shiftRank returns k, the number of pairwise differences to leave out at
// each end for a confidence interval of the shift at level conf, and the
// level the interval actually has (≥ conf). k is 0 when no finite interval
// exists at that level.
func shiftRank(m, n int, conf float64) (int, float64) {
	tail := (1 - conf) / 2
	if m+n <= uExactLimit {
		cdf := uLowerTail(m, n)
		// The interval [d_(k), d_(mn+1−k)] covers with 1 − 2·P(U ≤ k−1).
		k := 0
		for k < len(cdf) && cdf[k] <= tail {
			k++
		}
		if k == 0 {
			return 0, 0
		}
		return k, 1 - 2*cdf[k-1]
	}
	mu := float64(m*n) / 2
	sigma := math.Sqrt(float64(m*n) * float64(m+n+1) / 12)
	z := normalQuantile(1 - tail)
	k := int(math.Floor(mu - z*sigma + 0.5))
	if k < 1 {
		return 0, 0
	}
	return k, conf
}

// normalQuantile is the standard normal quantile, by bisection on Erfc
// (only needed for large samples; precision 1e-9 is plenty).
func normalQuantile(p float64) float64 {
	lo, hi := -40.0, 40.0
	for hi-lo > 1e-9 {
		mid := (lo + hi) / 2
		if 0.5*math.Erfc(-mid/math.Sqrt2) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// shiftCI is the Hodges–Lehmann confidence interval of the change from
// base to nw: the order statistics of all pairwise ratios nw_j/base_i
// (minus one), or of the differences nw_j − base_i when absolute is set
// or some value is not positive (then divided by baseMedian unless
// absolute). It returns NaNs when the samples are too few for an interval
// at level conf.
func shiftCI(base, nw []float64, conf float64, absolute bool, baseMedian float64) (lo, hi, level float64) {
	m, n := len(base), len(nw)
	k, level := shiftRank(m, n, conf)
	if k == 0 {
		return math.NaN(), math.NaN(), 0
	}
	positive := !absolute && slices.Min(base) > 0 && slices.Min(nw) > 0
	d := make([]float64, 0, m*n)
	for _, b := range base {
		for _, x := range nw {
			if positive {
				d = append(d, math.Log(x/b))
			} else {
				d = append(d, x-b)
			}
		}
	}
	sort.Float64s(d)
	lo, hi = d[k-1], d[m*n-k]
	switch {
	case positive:
		return math.Expm1(lo), math.Expm1(hi), level
	case absolute:
		return lo, hi, level
	case baseMedian != 0:
		return lo / baseMedian, hi / baseMedian, level
	}
	return math.NaN(), math.NaN(), 0
}

// benjaminiHochberg returns the adjusted p values (q values) of ps, in
// the same order: q_(i) = min over j ≥ i of p_(j)·m/j, at most 1. A test
// is significant at level alpha when its q value is below alpha; over all
// tests the expected share of false discoveries is then at most alpha, and
// when nothing changed at all, the chance of any discovery is at most
// alpha.
func benjaminiHochberg(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	q := make([]float64, m)
	running := 1.0
	for r := m - 1; r >= 0; r-- {
		i := idx[r]
		running = math.Min(running, ps[i]*float64(m)/float64(r+1))
		q[i] = math.Min(running, 1)
	}
	return q
}
