package report

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/summary"
)

// page is everything report.html is made of.
type page struct {
	sum        *summary.Summary
	layout     *layout
	runDir     string
	comparison plotImage
	spectra    []plotImage // by group; empty Name: no data
	cells      []cellPage
}

// plotImage is a rendered plot.
type plotImage struct {
	Name, Dir, Title string
	PNG              []byte
}

// cellPage is one cell's part of the report.
type cellPage struct {
	cell           *summary.CellResult
	data           *cellData
	images         []plotImage
	visualizations []link
	note           string
	scatterShown   int
}

// Template views: what the template reads.
type (
	htmlView struct {
		Title      string
		Meta       []keyValue
		Headline   []badge
		Interrupt  bool
		Comparison imgView
		Spectra    []imgView
		Matrix     matrixView
		Rows       []rowView
		MultiCells bool
		// Saturated are the notes under the verdict table on open-loop
		// cells that fell behind their rate.
		Saturated []string
		Unsafe    []cellView
		Cells     []cellView
		Notes     []string
	}
	keyValue struct{ Key, Value string }
	badge    struct {
		Text  string
		Class string
	}
	imgView struct {
		Alt, Title string
		Data       template.URL
		PNG, SVG   string
	}
	verdictView struct{ Text, Class, Title string }
	rowView     struct {
		Anchor, ID, Lock, Workload, Fault, Sample string
		// Network is the cell's path to the lock nodes, direct or
		// proxied; NetworkTitle says what that means for its figures.
		Network, NetworkTitle               string
		Throughput, P50, P99, P999, Handoff string
		// NumClass and NumTitle mark figures that are not the lock's
		// (a starved harness).
		NumClass, NumTitle                  string
		Mutex, Resource, Liveness, Progress verdictView
		Harness                             verdictView
		Class, Error                        string
	}
	// matrixView is the Matrix: rows of locks, columns of faults, then
	// the figures without fault per workload.
	matrixView struct {
		Caption   string
		Faults    []string
		Workloads []string
		Baseline  bool
		Rows      []matrixRow
	}
	matrixRow struct {
		Lock     string
		Entries  []matrixCell
		Baseline []baselineView
	}
	// matrixCell links to the cell to read first: its witnesses when it
	// is unsafe, its section otherwise.
	matrixCell   struct{ Text, Class, Href, Title string }
	baselineView struct{ Throughput, P99, NumClass, Title string }
	witnessView  struct{ Kind, Text string }
	cellView     struct {
		Anchor, ID, Title, Class, ClassText string
		Mutex, Resource, Liveness, Progress verdictView
		Harness                             verdictView
		Witnesses                           []witnessView
		Links                               []link
		Images                              []imgView
		Timeline                            imgView
		Facts                               []string
		Note, Error                         string
	}
)

// writeHTML renders report.html.
func (pg *page) writeHTML(w *bufio.Writer) error {
	t, err := template.New("report").Parse(reportTemplate)
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	return t.Execute(w, pg.view())
}

func (pg *page) view() *htmlView {
	s := pg.sum
	v := &htmlView{Title: "lockbench report " + s.RunID, Interrupt: s.Interrupted, MultiCells: pg.layout.multi}
	sc := s.Scenario
	m := s.Machine
	v.Meta = []keyValue{
		{"run", s.RunID},
		{"scenario", strings.TrimSpace(sc.Name + " — " + sc.Description)},
		{"started", s.Started.Format(time.RFC3339)},
		{"elapsed", (time.Duration(s.ElapsedMs * 1e6)).Round(time.Millisecond).String()},
		{"provider", s.Provider + " (" + s.ProviderWhy + ")"},
		{"machine", machineLine(m)},
		{"redis", m.Redis},
		{"lock nodes", fmt.Sprint(sc.Nodes)},
		{"seeds", fmt.Sprint(sc.Seeds)},
		{"locks", strings.Join(pg.layout.locks, ", ")},
		{"workloads", strings.Join(pg.layout.workloads, ", ")},
		{"faults", strings.Join(pg.layout.faults, ", ")},
	}
	if sc.Repeat > 1 {
		v.Meta = append(v.Meta, keyValue{"samples per cell", fmt.Sprint(sc.Repeat)})
	}
	if line := ProxyCostLine(s); line != "" {
		v.Meta = append(v.Meta, keyValue{"proxy cost", line})
	}
	if s.Agents != "" {
		v.Meta = append(v.Meta, keyValue{"clients on agents", s.Agents + " (offsets and ε per cell in the notes; docs/agents.md)"})
	}
	counts := map[summary.Class]int{}
	for i := range s.Cells {
		counts[s.Cells[i].Class()]++
	}
	v.Headline = append(v.Headline, badge{fmt.Sprintf("%d cells", len(s.Cells)), ""})
	for _, cl := range summary.Classes() {
		if counts[cl] > 0 {
			v.Headline = append(v.Headline, badge{fmt.Sprintf("%d %s", counts[cl], cl), "v-" + cl.String()})
		}
	}
	v.Comparison = imgOf(pg.comparison, "strategy comparison: throughput per lock, coloured by verdict")
	for _, sp := range pg.spectra {
		if sp.Name != "" {
			v.Spectra = append(v.Spectra, imgOf(sp, "acquire latency spectrum, "+sp.Title))
		}
	}
	v.Matrix = pg.matrixView()
	for i := range pg.cells {
		cp := &pg.cells[i]
		c := cp.cell
		cv := pg.cellView(cp)
		v.Rows = append(v.Rows, rowOf(c, pg.layout.labels.Of(c), cv))
		if n := SaturationNote(c); n != "" {
			v.Saturated = append(v.Saturated, n)
		}
		v.Cells = append(v.Cells, cv)
		if c.Class() == summary.ClassUnsafe {
			v.Unsafe = append(v.Unsafe, cv)
		}
		if cp.note != "" {
			v.Notes = append(v.Notes, cp.note)
		}
		if n := AgentsNote(c); n != "" {
			v.Notes = append(v.Notes, n)
		}
	}
	return v
}

// matrixView lays out the run's Matrix for the template.
func (pg *page) matrixView() matrixView {
	m := newMatrix(pg.sum, pg.layout)
	mv := matrixView{Caption: m.Caption(), Faults: m.Faults, Workloads: m.Workloads, Baseline: m.Baseline != nil}
	for i, lock := range m.Locks {
		row := matrixRow{Lock: lock}
		for _, e := range m.Entries[i] {
			mc := matrixCell{Text: e.String()}
			if first := e.First(); first != nil {
				mc.Class, mc.Href = "v-"+e.Class.String(), "#"+anchor(first)
				if e.Class == summary.ClassUnsafe {
					mc.Href = "#unsafe-" + first.ID
				}
				var titles []string
				for _, c := range e.Cells {
					titles = append(titles, fmt.Sprintf("%s: %s (%s)", c.ID, c.Class(), pg.layout.labels.Of(c)))
				}
				mc.Title = strings.Join(titles, "\n")
			}
			row.Entries = append(row.Entries, mc)
		}
		if m.Baseline != nil {
			for _, b := range m.Baseline[i] {
				bv := baselineView{Throughput: b.ThroughputText(), P99: b.P99Text(), NumClass: "num"}
				var titles []string
				if b.Overloaded {
					bv.NumClass = "num starved"
					titles = append(titles, "a starved harness: the figures are the machine's, not the lock's")
				}
				for _, c := range b.Cells {
					if n := SaturationNote(c); n != "" {
						titles = append(titles, n)
					}
				}
				if b.Saturated {
					bv.NumClass += " sat"
				}
				bv.Title = strings.Join(titles, "\n")
				row.Baseline = append(row.Baseline, bv)
			}
		}
		mv.Rows = append(mv.Rows, row)
	}
	return mv
}

func imgOf(p plotImage, alt string) imgView {
	base := p.Dir + "/" + p.Name
	return imgView{
		Alt: alt, Title: p.Title,
		Data: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(p.PNG)),
		PNG:  base + ".png", SVG: base + ".svg",
	}
}

// verdict colours one verdict; note, when set, is its hover text.
func verdict(s, note string) verdictView {
	cl := "v-safe"
	switch s {
	case "ok":
	case "", "-", string(checker.LivenessNA):
		cl = "" // not assessed: neither good nor bad
	case string(checker.MutexUnknown):
		cl = "v-undecided"
	case string(checker.LivenessStalled):
		cl = "v-stalled"
	case string(checker.ProgressDegraded):
		cl = "v-degraded"
	case string(checker.ProgressNone):
		cl = "v-no-progress"
	default:
		cl = "v-unsafe"
	}
	if s == "" {
		s = "-"
	}
	return verdictView{Text: s, Class: cl, Title: note}
}

// harnessVerdict is "ok", "overloaded" or "-" (not measured).
func harnessVerdict(c *summary.CellResult) verdictView {
	switch {
	case c.Harness == nil:
		return verdictView{Text: "-"}
	case c.Harness.Overloaded:
		return verdictView{Text: "overloaded", Class: "v-harness-overloaded", Title: c.Harness.Note}
	}
	return verdictView{Text: "ok", Class: "v-safe", Title: fmt.Sprintf("p99 scheduling delay %.0f µs, timer lag %.0f µs, budget %.0f µs", c.Harness.SchedP99Us, c.Harness.LagP99Us, c.Harness.BudgetUs)}
}

// networkNote says how the cell's clients reached the lock nodes and what
// that means for its figures; pc, when measured, puts a number on it.
func networkNote(c *summary.CellResult, pc *summary.ProxyCost) string {
	if c.NetworkPath() == summary.NetworkDirect {
		return "direct: the clients connected straight to the lock nodes (no fault of this cell acts in the network)"
	}
	note := "proxied: the clients reached the lock nodes through the fault proxies"
	if c.Network == "" {
		note += " (as every cell did before the path was recorded)"
	}
	note += "; its throughput and latencies carry their cost and compare only with proxied cells"
	if pc != nil && pc.Error == "" {
		note += fmt.Sprintf(" (idle, they took %.0f %% of the harness's throughput in this run)", 100*pc.Fraction)
	}
	return note
}

// ProxyCostLine states in one line what an idle proxy cost the harness in
// the run (summary.Summary.ProxyCost), for the report's header and the
// terminal table; "" when the run did not measure it.
func ProxyCostLine(s *summary.Summary) string {
	pc := s.ProxyCost
	switch {
	case pc == nil:
		return ""
	case pc.Error != "":
		return "proxy cost not measured: " + pc.Error
	}
	return fmt.Sprintf("an idle fault proxy took %.0f %% of the harness's throughput (token, uncontended: %.0f lock cycles/s direct, %.0f proxied; median of %d paired rounds of %.0f ms); proxied cells carry that cost, direct ones do not",
		100*pc.Fraction, pc.Direct, pc.Proxied, pc.Rounds, pc.RoundMs)
}

// FormatMicros formats microseconds for tables (the CLI and report.html):
// µs below 1 ms, ms below 1 s, s above.
func FormatMicros(v int64) string {
	switch {
	case v >= 1_000_000:
		return fmt.Sprintf("%.2fs", float64(v)/1e6)
	case v >= 1000:
		return fmt.Sprintf("%.1fms", float64(v)/1e3)
	default:
		return fmt.Sprintf("%dµs", v)
	}
}

func anchor(c *summary.CellResult) string { return "cell-" + c.ID }

// rowOf is the cell's row of the verdict table; workload is its label.
func rowOf(c *summary.CellResult, workload string, cv cellView) rowView {
	r := rowView{Anchor: cv.Anchor, ID: c.ID, Lock: c.Strategy(), Workload: workload, Fault: c.Fault,
		Network: c.NetworkPath(), NetworkTitle: networkNote(c, nil),
		Sample: fmt.Sprintf("seed %d #%d", c.Seed, c.Sample), Class: cv.Class,
		Mutex: cv.Mutex, Resource: cv.Resource, Liveness: cv.Liveness, Progress: cv.Progress, Harness: cv.Harness, Error: c.Error}
	if c.Overloaded() {
		r.NumClass, r.NumTitle = "num starved", c.Harness.Note
	} else {
		r.NumClass = "num"
	}
	if c.Error != "" {
		r.Throughput, r.P50, r.P99, r.P999, r.Handoff = "-", "-", "-", "-", "-"
		return r
	}
	acq, hand := c.Latency[summary.HistAcquireOK], c.Latency[summary.HistHandoff]
	r.Throughput = fmt.Sprintf("%.0f", c.Throughput) + SaturationMark(c)
	if c.Saturated {
		r.NumClass += " sat"
		r.NumTitle = strings.TrimSpace(r.NumTitle + " " + SaturationNote(c))
	}
	r.P50, r.P99, r.P999 = FormatMicros(acq.P50), FormatMicros(acq.P99), FormatMicros(acq.P999)
	r.Handoff = "-"
	if hand.Count > 0 {
		r.Handoff = FormatMicros(hand.P50)
	}
	return r
}

func (pg *page) cellView(cp *cellPage) cellView {
	c := cp.cell
	cl := c.Class()
	cv := cellView{
		Anchor: anchor(c), ID: c.ID, Class: "v-" + cl.String(), ClassText: cl.String(),
		Title:    fmt.Sprintf("%s under %s, %s, %s", c.Strategy(), c.Fault, pg.layout.labels.Of(c), c.NetworkPath()),
		Mutex:    verdict(string(c.Verdicts.Mutex), ""),
		Resource: verdict(string(c.Verdicts.Resource), ""),
		Liveness: verdict(string(c.Verdicts.Liveness), c.Notes.Liveness),
		Progress: verdict(string(c.Verdicts.Progress), c.Notes.Progress),
		Harness:  harnessVerdict(c),
		Note:     cp.note, Error: c.Error,
	}
	for _, w := range c.Witnesses {
		text := w.Explanation
		if text == "" {
			text = fmt.Sprintf("%s on %s, processes %v", w.Kind, w.Key, w.Processes)
		}
		if w.Count > 1 {
			text += fmt.Sprintf(" (the earliest of %d on this key)", w.Count)
		}
		cv.Witnesses = append(cv.Witnesses, witnessView{Kind: w.Kind, Text: text})
	}
	cv.Links = append(cv.Links, cp.visualizations...)
	if c.History != "" && !filepath.IsAbs(c.History) {
		if _, err := os.Stat(filepath.Join(pg.runDir, c.History)); err == nil {
			cv.Links = append(cv.Links, link{Label: "history (JSON Lines)", Href: filepath.ToSlash(c.History)})
		}
	}
	for _, im := range cp.images {
		iv := imgOf(im, im.Name+" of "+c.ID)
		cv.Images = append(cv.Images, iv)
		if im.Name == TimelinePlot {
			cv.Timeline = iv
		}
	}
	cv.Facts = pg.facts(cp)
	return cv
}

// facts are the cell's numbers worth a line each.
func (pg *page) facts(cp *cellPage) []string {
	c := cp.cell
	var out []string
	k := c.Counts
	out = append(out, fmt.Sprintf("%d acquire attempts: %d acquired, %d not obtained, %d unknown; %d releases lost, %d unknown",
		k.Attempts, k.AcquireOK, k.NotObtained, k.AcquireUnknown, k.ReleaseLost, k.ReleaseUnknown))
	out = append(out, fmt.Sprintf("resource: %d writes accepted, %d stale writes rejected, %d lost updates, %d errors; %d writes skipped (lease expired)",
		k.WritesOK, k.WritesRejected, c.LostUpdates, k.ResourceErrors, k.SkippedExpired))
	if k.Crashes+k.Pauses > 0 {
		out = append(out, fmt.Sprintf("client faults: %d crashes, %d pauses", k.Crashes, k.Pauses))
	}
	sp := c.Spec
	out = append(out, fmt.Sprintf("workload: %d clients in %d group(s), TTL %v, ran %v", sp.Clients, max(sp.Groups, 1), sp.TTL, time.Duration(c.ElapsedMs*1e6).Round(time.Millisecond)))
	out = append(out, "network: "+networkNote(c, pg.sum.ProxyCost))
	if c.Saturated {
		out = append(out, fmt.Sprintf("open loop saturated: achieved %.0f/s of %.0f/s", c.AchievedRate, sp.Rate))
	}
	if ch := c.Check; ch != nil {
		for _, a := range ch.Availability {
			end := fmt.Sprintf("%.0f ms", a.EndMs)
			if a.Open {
				end = "the end"
			}
			out = append(out, fmt.Sprintf("availability during %s on %s (%.0f ms → %s): %.0f%% of its seconds saw an acquire", a.Fault, a.Target, a.StartMs, end, 100*a.Availability))
		}
		if ch.BaselineAvailability != nil {
			out = append(out, fmt.Sprintf("availability without faults: %.0f%%", 100**ch.BaselineAvailability))
		}
		for _, st := range ch.Stalls {
			out = append(out, fmt.Sprintf("stall on %s from %.0f ms to %.0f ms: clients tried, nobody held it, no fault was active", st.Key, st.StartMs, st.EndMs))
		}
		for _, k := range ch.UnknownKeys {
			out = append(out, "the check timed out on key "+k)
		}
		out = append(out, fmt.Sprintf("checked %d events (%d operations, %d keys) in %.0f ms", ch.Counts.Events, ch.Counts.Ops, ch.Counts.Keys, ch.CheckDurationMs))
	}
	if cp.data != nil && len(cp.data.acquires) > cp.scatterShown {
		out = append(out, fmt.Sprintf("the scatter plot shows %d of %d acquires (all unsuccessful ones when they fit, the rest evenly spaced)", cp.scatterShown, len(cp.data.acquires)))
	}
	return out
}

// reportTemplate is report.html: no script, no external resource.
const reportTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; margin: 1.5rem auto; max-width: 1400px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; font-size: .9rem; }
dl.meta dt { color: #666; }
dl.meta dd { margin: 0; }
.badges span { display: inline-block; padding: .15rem .6rem; margin: .2rem .3rem .2rem 0; border-radius: 1rem; background: #eee; font-weight: 600; }
.howto { background: #f6f8fa; border-left: 4px solid #4c72b0; padding: .6rem 1rem; font-size: .92rem; }
img.plot { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 1rem; }
figure { margin: 0; }
figcaption { font-size: .8rem; color: #666; }
table.verdicts { border-collapse: collapse; font-size: .85rem; width: 100%; }
table.verdicts th, table.verdicts td { border: 1px solid #ddd; padding: .2rem .45rem; text-align: left; white-space: nowrap; }
table.verdicts th { background: #f0f0f0; position: sticky; top: 0; }
table.verdicts td.cellid { white-space: normal; word-break: break-all; font-size: .8rem; }
table.verdicts td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.verdicts td.starved { color: #999; text-decoration: line-through; }
table.verdicts td.net-proxied { color: #7a4a00; }
table.verdicts tr:nth-child(even) td { background-color: #fafafa; }
td.v-safe, span.v-safe { background: #d9f2d9 !important; color: #1d5e1d; }
td.v-unsafe, span.v-unsafe { background: #f8d0d0 !important; color: #8b0000; font-weight: 700; }
td.v-undecided, span.v-undecided { background: #ffe9c2 !important; color: #7a4a00; }
td.v-stalled, span.v-stalled { background: #e8dcf5 !important; color: #4b2a7a; }
td.v-error, span.v-error { background: #e6e6e6 !important; color: #444; }
td.v-no-progress, span.v-no-progress { background: #ecd9d3 !important; color: #5a3428; font-weight: 700; }
td.v-degraded, span.v-degraded, td.v-harness-overloaded, span.v-harness-overloaded { background: #f1f1c8 !important; color: #5c5c0f; }
table.matrix { border-collapse: collapse; font-size: .9rem; margin: .6rem 0 .3rem; }
table.matrix th, table.matrix td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; white-space: nowrap; }
table.matrix th { background: #f0f0f0; }
table.matrix th.lock { text-align: left; }
table.matrix td a { color: inherit; text-decoration: none; display: block; }
table.matrix td a:hover { text-decoration: underline; }
table.matrix td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.matrix td.starved { color: #999; text-decoration: line-through; }
td.sat { color: #7a4a00; font-weight: 600; }
p.caption { font-size: .85rem; color: #555; margin: .2rem 0; }
.unsafe-cell { border: 2px solid #d62728; border-radius: 6px; padding: .3rem 1rem .8rem; margin: 1rem 0; }
ul.witnesses li { margin: .3rem 0; }
.kind { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85em; background: #f3f3f3; padding: 0 .3rem; border-radius: 3px; }
details.cell { border: 1px solid #ddd; border-radius: 6px; margin: .4rem 0; padding: .3rem .8rem; }
details.cell > summary { cursor: pointer; font-weight: 600; }
details.cell > summary span { font-weight: 400; margin-left: .4rem; padding: 0 .4rem; border-radius: 3px; }
ul.facts { font-size: .88rem; color: #333; }
.note { color: #8b0000; }
.links a { margin-right: 1rem; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div class="badges">{{range .Headline}}<span class="{{.Class}}">{{.Text}}</span>{{end}}</div>
{{if .Interrupt}}<p class="note">This run was interrupted: only the cells that finished are reported.</p>{{end}}
{{with .Matrix}}{{if .Rows}}<h2 id="matrix">Which lock, under which fault</h2>
<table class="matrix" id="verdict-matrix">
<thead><tr><th class="lock" rowspan="2">lock</th><th colspan="{{len .Faults}}">under fault (worst verdict)</th>{{if .Baseline}}{{range .Workloads}}<th colspan="2">without fault: {{.}}</th>{{end}}{{end}}</tr>
<tr>{{range .Faults}}<th>{{.}}</th>{{end}}{{if .Baseline}}{{range .Workloads}}<th>acq/s</th><th>acquire p99</th>{{end}}{{end}}</tr></thead>
<tbody>{{range .Rows}}
<tr><th class="lock">{{.Lock}}</th>{{range .Entries}}<td class="{{.Class}}" title="{{.Title}}">{{if .Href}}<a href="{{.Href}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}</td>{{end}}{{range .Baseline}}<td class="{{.NumClass}}" title="{{.Title}}">{{.Throughput}}</td><td class="{{.NumClass}}" title="{{.Title}}">{{.P99}}</td>{{end}}</tr>{{end}}
</tbody></table>
<p class="caption">Each entry is {{.Caption}}. It links to the cell to read first (its witnesses when unsafe); hover for all its cells.</p>
{{end}}{{end}}
<dl class="meta">{{range .Meta}}<dt>{{.Key}}</dt><dd>{{.Value}}</dd>{{end}}</dl>

<h2 id="how-to-read">How to read this</h2>
<div class="howto">
<p>Each <em>cell</em> runs one lock strategy under one workload while one fault schedule is injected; every operation is recorded
in the cell's history and the checker decides from that history alone. <strong>mutex</strong> is <em>violated</em> when two
clients believed they held the same lock at the same time (from their acquire's success until they released it, their lease's
deadline passed, or they crashed); <strong>resource</strong> is not <em>ok</em> when the protected counter lost an update or
accepted a write with a stale fencing token; <strong>liveness</strong> is <em>stalled</em> when clients kept trying but nobody
got a free lock for longer than the stall bound with no fault active, and <em>n/a</em> when no fault-free stretch of the cell was
longer than the bound, so no stall could have been seen; <strong>progress</strong> is <em>none</em> when no acquire succeeded
outside the fault windows (nothing was shown safe, whatever the other verdicts say) and <em>degraded</em> when timeouts
outnumbered successes or far fewer acquires succeeded than the same lock managed without faults; <strong>harness</strong> is
<em>overloaded</em> when the harness itself waited to be scheduled for a quarter of the lock's time budget or more: that cell's
figures (struck through) measure the machine, not the lock. <strong>net</strong> says how the clients reached the lock
nodes: <em>direct</em>, or <em>proxied</em> through the fault proxies, which a cell with a network fault needs; proxied
figures carry the proxies' cost (the header's proxy cost) and compare only with proxied ones. A red cell is unsafe: do not adopt that strategy for
that situation. Throughput is successful acquires per second; latencies are acquire latencies from the intended start to the
lease in hand (p50, p99, p99.9). In the latency spectra the x axis stretches the tail (90 %, 99 %, 99.9 %, 99.99 %), so a line
that rises late is a strategy whose slow requests are rare; grey bands in the time plots are fault windows. Every violation
below comes with a witness: the processes, the keys and the times, and a link to the history and to the visualisation of
the linearizability check.</p>
</div>

<h2 id="comparison">Strategy comparison</h2>
<figure><a href="{{.Comparison.SVG}}"><img class="plot" src="{{.Comparison.Data}}" alt="{{.Comparison.Alt}}"></a>
<figcaption>{{.Comparison.Alt}}. <a href="{{.Comparison.PNG}}">PNG</a> · <a href="{{.Comparison.SVG}}">SVG</a></figcaption></figure>

<h2 id="spectra">Acquire latency spectra</h2>
<div class="grid">{{range .Spectra}}
<figure><img class="plot" src="{{.Data}}" alt="{{.Alt}}"><figcaption>{{.Title}} · <a href="{{.PNG}}">PNG</a> · <a href="{{.SVG}}">SVG</a></figcaption></figure>{{else}}<p>No acquire succeeded: no spectrum to draw.</p>{{end}}
</div>

<h2 id="verdicts">Verdicts</h2>
<table class="verdicts" id="verdict-table">
<thead><tr><th>lock</th><th>workload</th><th>fault</th><th title="how the clients reached the lock nodes: direct, or through the fault proxies">net</th>{{if .MultiCells}}<th>sample</th>{{end}}<th>acq/s</th><th>acquire p50</th><th>p99</th><th>p99.9</th><th>handoff p50</th><th>mutex</th><th>resource</th><th>liveness</th><th>progress</th><th>harness</th><th>cell</th></tr></thead>
<tbody>{{range .Rows}}
<tr id="row-{{.ID}}"><td>{{.Lock}}</td><td>{{.Workload}}</td><td>{{.Fault}}</td><td class="net-{{.Network}}" title="{{.NetworkTitle}}">{{.Network}}</td>{{if $.MultiCells}}<td>{{.Sample}}</td>{{end}}<td class="{{.NumClass}}" title="{{.NumTitle}}">{{.Throughput}}</td><td class="{{.NumClass}}" title="{{.NumTitle}}">{{.P50}}</td><td class="{{.NumClass}}" title="{{.NumTitle}}">{{.P99}}</td><td class="{{.NumClass}}" title="{{.NumTitle}}">{{.P999}}</td><td class="{{.NumClass}}" title="{{.NumTitle}}">{{.Handoff}}</td>{{if .Error}}<td class="v-error" colspan="5" title="{{.Error}}">error</td>{{else}}<td class="{{.Mutex.Class}}">{{.Mutex.Text}}</td><td class="{{.Resource.Class}}">{{.Resource.Text}}</td><td class="{{.Liveness.Class}}" title="{{.Liveness.Title}}">{{.Liveness.Text}}</td><td class="{{.Progress.Class}}" title="{{.Progress.Title}}">{{.Progress.Text}}</td><td class="{{.Harness.Class}}" title="{{.Harness.Title}}">{{.Harness.Text}}</td>{{end}}<td class="cellid"><a href="#{{.Anchor}}">{{.ID}}</a></td></tr>{{end}}
</tbody></table>
{{if .Saturated}}<ul class="saturated">{{range .Saturated}}<li class="note">{{.}}</li>{{end}}</ul>{{end}}

<h2 id="violations">Violations</h2>
{{range .Unsafe}}<div class="unsafe-cell" id="unsafe-{{.ID}}">
<h3>{{.Title}} <small>(<a href="#{{.Anchor}}">{{.ID}}</a>)</small></h3>
<p>mutex <span class="{{.Mutex.Class}}">{{.Mutex.Text}}</span> · resource <span class="{{.Resource.Class}}">{{.Resource.Text}}</span> · liveness <span class="{{.Liveness.Class}}">{{.Liveness.Text}}</span> · progress <span class="{{.Progress.Class}}">{{.Progress.Text}}</span> · harness <span class="{{.Harness.Class}}">{{.Harness.Text}}</span></p>
{{if .Progress.Title}}<p class="note">progress: {{.Progress.Title}}</p>{{end}}{{if .Liveness.Title}}<p class="note">liveness: {{.Liveness.Title}}</p>{{end}}{{if eq .Harness.Text "overloaded"}}<p class="note">{{.Harness.Title}}</p>{{end}}
<ul class="witnesses">{{range .Witnesses}}<li><span class="kind">{{.Kind}}</span> {{.Text}}</li>{{end}}</ul>
<p class="links">{{range .Links}}<a href="{{.Href}}">{{.Label}}</a>{{end}}</p>
{{if .Timeline.PNG}}<figure><img class="plot" src="{{.Timeline.Data}}" alt="{{.Timeline.Alt}}"><figcaption>lock holders around the first witness · <a href="{{.Timeline.SVG}}">SVG</a></figcaption></figure>{{end}}
</div>{{else}}<p>No safety violation in this run.</p>{{end}}

<h2 id="cells">Cells</h2>
{{range .Cells}}<details class="cell" id="{{.Anchor}}"{{if eq .ClassText "unsafe"}} open{{end}}>
<summary>{{.ID}} — {{.Title}} <span class="{{.Class}}">{{.ClassText}}</span></summary>
{{if .Error}}<p class="note">The cell could not run: {{.Error}}</p>{{end}}
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
<p>mutex <span class="{{.Mutex.Class}}">{{.Mutex.Text}}</span> · resource <span class="{{.Resource.Class}}">{{.Resource.Text}}</span> · liveness <span class="{{.Liveness.Class}}">{{.Liveness.Text}}</span> · progress <span class="{{.Progress.Class}}">{{.Progress.Text}}</span> · harness <span class="{{.Harness.Class}}">{{.Harness.Text}}</span></p>
{{if .Progress.Title}}<p class="note">progress: {{.Progress.Title}}</p>{{end}}{{if .Liveness.Title}}<p class="note">liveness: {{.Liveness.Title}}</p>{{end}}{{if eq .Harness.Text "overloaded"}}<p class="note">{{.Harness.Title}}</p>{{end}}
{{if .Witnesses}}<ul class="witnesses">{{range .Witnesses}}<li><span class="kind">{{.Kind}}</span> {{.Text}}</li>{{end}}</ul>{{end}}
<ul class="facts">{{range .Facts}}<li>{{.}}</li>{{end}}</ul>
<p class="links">{{range .Links}}<a href="{{.Href}}">{{.Label}}</a>{{end}}</p>
<div class="grid">{{range .Images}}<figure><img class="plot" loading="lazy" src="{{.Data}}" alt="{{.Alt}}"><figcaption>{{.Alt}} · <a href="{{.PNG}}">PNG</a> · <a href="{{.SVG}}">SVG</a></figcaption></figure>{{end}}</div>
</details>
{{end}}
{{if .Notes}}<h2 id="notes">Notes</h2><ul>{{range .Notes}}<li class="note">{{.}}</li>{{end}}</ul>{{end}}
<p style="color:#888;font-size:.8rem">Written by lockbench. Plots as PNG and SVG beside this file; bench.txt holds the numbers in the Go benchmark format for benchstat.</p>
</body>
</html>
`

// machineLine describes the machine in one line for the report's header.
func machineLine(m summary.Machine) string {
	cpus := fmt.Sprintf("%d CPUs", m.CPUs)
	if m.CPUModel != "" {
		cpus += " (" + m.CPUModel + ")"
	}
	return fmt.Sprintf("%s, %s/%s, %s, %s", m.Hostname, m.OS, m.Arch, cpus, m.GoVersion)
}

// AgentsNote states in one line, for the notes under a table, how a cell
// run on agents was shared out and how far each agent's clock could be
// off: "" for a cell the controller ran itself.
func AgentsNote(c *summary.CellResult) string {
	if len(c.Agents) == 0 {
		return ""
	}
	parts := make([]string, 0, len(c.Agents))
	for _, a := range c.Agents {
		clients := "clients"
		if a.Clients == 1 {
			clients = "client"
		}
		parts = append(parts, fmt.Sprintf("%s %d %s %d acquires, offset %+.3f ms ± %.3f ms (drift %+.3f ms)",
			a.Name, a.Clients, clients, a.AcquireOK, a.OffsetMs, a.UncertaintyMs, a.DriftMs))
	}
	return fmt.Sprintf("%s ran on %d agents (handoff latency counts handoffs within one agent only): %s", c.ID, len(c.Agents), strings.Join(parts, "; "))
}
