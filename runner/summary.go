package runner

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// WriteSummary writes sum as indented JSON, atomically: a reader never sees
// half a summary, and an interrupted run keeps the previous complete one.
func WriteSummary(path string, sum *Summary) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// ReadSummary reads a summary.json and decodes the cells' histograms.
func ReadSummary(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sum Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sum.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%s: schema version %d, this bench reads %d", path, sum.SchemaVersion, SchemaVersion)
	}
	for i := range sum.Cells {
		c := &sum.Cells[i]
		c.hists = map[string]*hdrhistogram.Histogram{}
		for name, enc := range c.Histograms {
			h, err := hdrhistogram.Decode([]byte(enc))
			if err != nil {
				return nil, fmt.Errorf("%s: cell %s histogram %s: %w", path, c.ID, name, err)
			}
			c.hists[name] = h
		}
	}
	return &sum, nil
}
