package workloads

import (
	"encoding/json"
	"fmt"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram names, per operation and outcome.
const (
	HistAcquireOK      = "acquire_ok"      // intended start → lease in hand
	HistAcquireFail    = "acquire_fail"    // intended start → not obtained or unknown
	HistAcquireService = "acquire_service" // actual start → outcome (no waiting for the schedule)
	HistRelease        = "release"         // release round trip, any outcome
	HistHandoff        = "handoff"         // a release completing → the next acquire of that key by another client
)

// histNames lists every histogram a run keeps.
var histNames = []string{HistAcquireOK, HistAcquireFail, HistAcquireService, HistRelease, HistHandoff}

// Histograms record microseconds from 1 µs to 60 s at 3 significant
// digits: fine enough for sub-millisecond loopback round trips, long enough
// for a slow-replies fault far above any TTL.
const (
	histMinUS   = 1
	histMaxUS   = 60_000_000
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMinUS, histMaxUS, histSigFigs) }

// newSecondHist is a per-second histogram: its p99 needs less resolution,
// and 2 digits keep it small.
func newSecondHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMinUS, histMaxUS, 2) }

// Footprint is what a run's statistics take in memory, for sizing a run
// before it starts.
type Footprint struct {
	// Hists is one worker's latency histograms; a run's merged Result
	// keeps as much again.
	Hists int64
	// SecondHist and Second are a worker's per-second histogram and
	// counter row, each taken once for every second the worker runs; a
	// Result keeps one counter row a second.
	SecondHist, Second int64
}

// StatsFootprint returns the sizes of Footprint, as the histograms are
// allocated (the histogram library's own ByteSize).
func StatsFootprint() Footprint {
	return Footprint{
		Hists:      int64(len(histNames)) * int64(newHist().ByteSize()),
		SecondHist: int64(newSecondHist().ByteSize()),
		Second:     int64(unsafe.Sizeof(Second{})),
	}
}

// Second counts one second of a run.
type Second struct {
	AcquireOK   int64 `json:"acquire_ok"`
	NotObtained int64 `json:"not_obtained"`
	Unknown     int64 `json:"unknown"`
	// P99us is the 99th percentile acquire latency in this second (µs).
	P99us int64 `json:"p99_us"`
}

// Counts are a run's event counts.
type Counts struct {
	Attempts       int64 `json:"attempts"`
	AcquireOK      int64 `json:"acquire_ok"`
	NotObtained    int64 `json:"not_obtained"`
	AcquireUnknown int64 `json:"acquire_unknown"`
	ReleaseOK      int64 `json:"release_ok"`
	ReleaseLost    int64 `json:"release_lost"`
	ReleaseUnknown int64 `json:"release_unknown"`
	WritesOK       int64 `json:"writes_ok"`
	WritesRejected int64 `json:"writes_rejected"` // stale fences refused by the resource
	ResourceErrors int64 `json:"resource_errors"`
	SkippedExpired int64 `json:"skipped_expired"` // lease expired before the protected write
	Crashes        int64 `json:"crashes"`
	Pauses         int64 `json:"pauses"`
}

func (c *Counts) add(o *Counts) {
	c.Attempts += o.Attempts
	c.AcquireOK += o.AcquireOK
	c.NotObtained += o.NotObtained
	c.AcquireUnknown += o.AcquireUnknown
	c.ReleaseOK += o.ReleaseOK
	c.ReleaseLost += o.ReleaseLost
	c.ReleaseUnknown += o.ReleaseUnknown
	c.WritesOK += o.WritesOK
	c.WritesRejected += o.WritesRejected
	c.ResourceErrors += o.ResourceErrors
	c.SkippedExpired += o.SkippedExpired
	c.Crashes += o.Crashes
	c.Pauses += o.Pauses
}

// workerStats belongs to one worker: no locks, merged after the run.
type workerStats struct {
	counts Counts
	hists  map[string]*hdrhistogram.Histogram
	// seconds and secondHists are indexed by second since the run began.
	seconds     []Second
	secondHists []*hdrhistogram.Histogram
}

func newWorkerStats() *workerStats {
	s := &workerStats{hists: make(map[string]*hdrhistogram.Histogram, len(histNames))}
	for _, n := range histNames {
		s.hists[n] = newHist()
	}
	return s
}

// record adds d to histogram h.
func (s *workerStats) record(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histMinUS {
		us = histMinUS
	}
	h.RecordValue(min(us, histMaxUS))
}

// second returns the counters of the second holding t (ns since the
// share started).
func (s *workerStats) second(t int64) (*Second, *hdrhistogram.Histogram) {
	i := int(max(t, 0) / int64(time.Second))
	for len(s.seconds) <= i {
		s.seconds = append(s.seconds, Second{})
		s.secondHists = append(s.secondHists, nil)
	}
	if s.secondHists[i] == nil {
		s.secondHists[i] = newSecondHist()
	}
	return &s.seconds[i], s.secondHists[i]
}

// Share is what one set of a run's workers measured: every worker of a
// run on one host, or an agent's slice of them. It travels between hosts
// as JSON, histograms in HdrHistogram's compressed encoding.
type Share struct {
	// Elapsed is from the share's start to its last worker's end.
	Elapsed time.Duration `json:"elapsed_ns"`
	Counts  Counts        `json:"counts"`
	// Seconds are per-second counters; their P99us is filled in by Merge.
	Seconds []Second `json:"seconds"`

	hists       map[string]*hdrhistogram.Histogram
	secondHists []*hdrhistogram.Histogram
}

// shareWire is a Share as JSON.
type shareWire struct {
	Elapsed     time.Duration     `json:"elapsed_ns"`
	Counts      Counts            `json:"counts"`
	Seconds     []Second          `json:"seconds"`
	Hists       map[string][]byte `json:"hists"`
	SecondHists [][]byte          `json:"second_hists"`
}

// MarshalJSON encodes the share with its histograms.
func (s *Share) MarshalJSON() ([]byte, error) {
	w := shareWire{Elapsed: s.Elapsed, Counts: s.Counts, Seconds: s.Seconds, Hists: map[string][]byte{}}
	for n, h := range s.hists {
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return nil, fmt.Errorf("encode histogram %s: %w", n, err)
		}
		w.Hists[n] = b
	}
	for i, h := range s.secondHists {
		if h == nil {
			w.SecondHists = append(w.SecondHists, nil)
			continue
		}
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return nil, fmt.Errorf("encode histogram of second %d: %w", i, err)
		}
		w.SecondHists = append(w.SecondHists, b)
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes a share MarshalJSON encoded.
func (s *Share) UnmarshalJSON(b []byte) error {
	var w shareWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Share{Elapsed: w.Elapsed, Counts: w.Counts, Seconds: w.Seconds, hists: map[string]*hdrhistogram.Histogram{}}
	for n, enc := range w.Hists {
		h, err := hdrhistogram.Decode(enc)
		if err != nil {
			return fmt.Errorf("decode histogram %s: %w", n, err)
		}
		s.hists[n] = h
	}
	for i, enc := range w.SecondHists {
		if enc == nil {
			s.secondHists = append(s.secondHists, nil)
			continue
		}
		h, err := hdrhistogram.Decode(enc)
		if err != nil {
			return fmt.Errorf("decode histogram of second %d: %w", i, err)
		}
		s.secondHists = append(s.secondHists, h)
	}
	return nil
}
