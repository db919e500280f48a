package report

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/lockbench/lockbench/summary"
)

// Files a report writes into a run directory.
const (
	// HTMLFile is the self-contained report.
	HTMLFile = "report.html"
	// BenchFile is the run in the Go benchmark format (benchstat reads it).
	BenchFile = "bench.txt"
	// SummaryFile is the run's summary, which Rebuild reads.
	SummaryFile = "summary.json"
	// PlotsDir holds the run-wide plots (comparison, spectra); each cell's
	// own plots are in cells/<id>/PlotsDir.
	PlotsDir = "plots"
)

// Plot names, without extension; each is written as .png and .svg.
const (
	// ComparisonPlot is the strategy comparison chart (PlotsDir).
	ComparisonPlot = "comparison"
	// SpectrumPrefix starts the name of each workload × fault's latency
	// spectrum (PlotsDir): spectrum-<workload>-<fault>.
	SpectrumPrefix = "spectrum-"
	// ThroughputPlot, ScatterPlot and TimelinePlot are each cell's plots
	// (cells/<id>/PlotsDir).
	ThroughputPlot = "throughput"
	ScatterPlot    = "scatter"
	TimelinePlot   = "timeline"
)

// Rebuild rewrites the report of the run in runDir (plots, report.html,
// bench.txt) from its summary.json and histories: `bench plot RUN_DIR`.
func Rebuild(runDir string) error {
	sum, err := summary.Read(filepath.Join(runDir, SummaryFile))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return Write(runDir, sum)
}

// Write writes the report of sum into runDir, the run's directory (its
// histories are read from there): the plots as PNG and SVG, report.html and
// bench.txt. A cell whose history cannot be read still gets its plots,
// from what the summary holds, and the report says why; the error is only
// for what could not be written.
func Write(runDir string, sum *summary.Summary) error {
	if sum == nil {
		return errors.New("report: no summary")
	}
	l := newLayout(sum)
	if err := os.MkdirAll(filepath.Join(runDir, PlotsDir), 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	pg := &page{sum: sum, layout: l, runDir: runDir, cells: make([]cellPage, len(sum.Cells))}

	// Every plot is a task; tasks run on all CPUs, the cells with the
	// longest histories first.
	var tasks []func() error
	if len(sum.Cells) > 0 {
		tasks = append(tasks, func() error {
			png, err := render(comparisonFigure(l), filepath.Join(runDir, PlotsDir, ComparisonPlot))
			pg.comparison = plotImage{Name: ComparisonPlot, Dir: PlotsDir, PNG: png}
			return err
		})
	}
	pg.spectra = make([]plotImage, len(l.groups))
	for i, g := range l.groups {
		tasks = append(tasks, func() error {
			f, ok, err := spectrumFigure(l, g)
			if err != nil || !ok {
				return err
			}
			name := SpectrumPrefix + slug(g.workload) + "-" + slug(g.fault)
			png, err := render(f, filepath.Join(runDir, PlotsDir, name))
			pg.spectra[i] = plotImage{Name: name, Dir: PlotsDir, PNG: png, Title: g.String()}
			return err
		})
	}
	order := make([]int, len(sum.Cells))
	size := make([]int64, len(sum.Cells))
	for i := range sum.Cells {
		order[i] = i
		if fi, err := os.Stat(historyPath(runDir, &sum.Cells[i])); err == nil {
			size[i] = fi.Size()
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(size[b], size[a]) })
	for _, i := range order {
		tasks = append(tasks, func() error { return pg.cellPlots(i) })
	}
	if err := runAll(tasks); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeFile(filepath.Join(runDir, HTMLFile), pg.writeHTML); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeFile(filepath.Join(runDir, BenchFile), func(w *bufio.Writer) error { return WriteBenchfmt(w, sum) }); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// cellPlots loads cell i's history and renders its three plots.
func (pg *page) cellPlots(i int) error {
	c := &pg.sum.Cells[i]
	cp := &pg.cells[i]
	cp.cell = c
	d, err := loadCell(pg.runDir, c)
	if err != nil && !(c.Error != "" && c.History == "") {
		cp.note = err.Error()
	}
	cp.data = d
	dir := filepath.Join("cells", c.ID, PlotsDir)
	if err := os.MkdirAll(filepath.Join(pg.runDir, dir), 0o755); err != nil {
		return err
	}
	sf, shown := scatterFigure(c, d)
	cp.scatterShown = shown
	figs := []struct {
		name string
		f    figure
	}{
		{ThroughputPlot, throughputFigure(c, d)},
		{ScatterPlot, sf},
		{TimelinePlot, timelineFigure(c, d)},
	}
	for _, f := range figs {
		png, err := render(f.f, filepath.Join(pg.runDir, dir, f.name))
		if err != nil {
			return err
		}
		cp.images = append(cp.images, plotImage{Name: f.name, Dir: filepath.ToSlash(dir), PNG: png})
	}
	cp.visualizations = visualizations(pg.runDir, c)
	return nil
}

// runAll runs tasks on GOMAXPROCS goroutines and joins their errors.
func runAll(tasks []func() error) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan func() error)
	for range max(runtime.GOMAXPROCS(0), 1) {
		wg.Go(func() {
			for t := range next {
				if err := safely(t); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, t := range tasks {
		next <- t
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// safely runs t, turning a panic (the plotting library panics on some
// inputs) into an error: a report must not crash the run it reports on.
func safely(t func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: panic: %v", r)
		}
	}()
	return t()
}

// writeFile writes path through a buffer, atomically: a reader never sees
// half a report.
func writeFile(path string, write func(*bufio.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// slug makes a name safe for a file name.
func slug(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// link is a relative link from report.html.
type link struct {
	Label, Href string
}

// visualizations lists the porcupine visualisations of a cell, relative
// to the run directory. They are found by name under the cell: runs
// recorded before the summary named them from the run directory named
// them from where the run was started.
func visualizations(runDir string, c *summary.CellResult) []link {
	var out []link
	seen := map[string]bool{}
	dir := filepath.Join("cells", c.ID, "visualizations")
	if c.Check != nil {
		for _, v := range c.Check.Visualizations {
			rel := filepath.Join(dir, filepath.Base(v.Path))
			if _, err := os.Stat(filepath.Join(runDir, rel)); err != nil {
				continue
			}
			seen[rel] = true
			out = append(out, link{Label: "linearizability visualisation of " + v.Key, Href: filepath.ToSlash(rel)})
		}
	}
	files, _ := filepath.Glob(filepath.Join(runDir, dir, "*.html"))
	for _, f := range files {
		rel := filepath.Join(dir, filepath.Base(f))
		if !seen[rel] {
			out = append(out, link{Label: "visualisation " + filepath.Base(f), Href: filepath.ToSlash(rel)})
		}
	}
	return out
}
