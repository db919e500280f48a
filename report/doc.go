// Package report turns a run's results into what people read (DESIGN §8):
// plots as PNG and SVG (gonum.org/v1/plot), a self-contained report.html
// and bench.txt in the Go benchmark format that benchstat reads.
//
// [Write] writes the report of a run that has just finished; [Rebuild]
// writes it again from a run directory's summary.json and histories
// (`bench plot RUN_DIR`); [WriteBenchfmt] writes the benchmark lines alone.
// The CI gate of `bench compare` is package compare.
//
// A run directory gets:
//
//	report.html                      self-contained: plots inlined, no script
//	bench.txt                        one benchmark line per cell that ran
//	plots/comparison.{png,svg}       throughput per lock, per workload × fault, coloured by verdict
//	plots/spectrum-W-F.{png,svg}     acquire latency by percentile, one line per lock
//	cells/ID/plots/throughput.*      acquires/s and p99 over time, fault windows shaded
//	cells/ID/plots/scatter.*         every acquire's latency against time, by outcome
//	cells/ID/plots/timeline.*        who believed they held the lock, violations in red
//
// The per-cell plots come from the cell's history; a cell whose history
// cannot be read gets plots from what summary.json holds, and the report
// says why.
package report
