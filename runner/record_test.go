package runner

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/internal/health"
	"github.com/lockbench/lockbench/summary"
	"github.com/lockbench/lockbench/workloads"
)

// fill sets every exported field of v, recursively, to a value that is not
// the zero value, so that a field the record functions forget shows.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0))
		fill(v.Index(1))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x-" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(9)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	}
}

func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem())
	return v
}

// asMap is v's JSON as a generic map.
func asMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecordKeepsEveryField: what the runner records in summary.json is,
// field for field and name for name, what its producers hold — the JSON
// the summary had when it embedded their types. A field added to a
// producer and not to the summary fails here.
func TestRecordKeepsEveryField(t *testing.T) {
	spec := filled[workloads.Spec]()
	sc := filled[Scenario]()
	action := filled[chaos.Action]()
	wres := filled[workloads.Result]()
	wres.Hists = nil
	var res summary.CellResult
	recordWorkload(&res, &wres)
	sample := filled[health.Sample]()
	harness := judgeHarness(sample, time.Second, nil)

	for _, tc := range []struct {
		name          string
		producer, got any
	}{
		{"spec", spec, recordSpec(spec)},
		{"scenario", sc, recordScenario(sc)},
		{"timeline action", action, recordTimeline([]chaos.Action{action})[0]},
		{"counts", wres.Counts, res.Counts},
		{"second", wres.Seconds[0], res.Seconds[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if want, got := asMap(t, tc.producer), asMap(t, tc.got); !reflect.DeepEqual(want, got) {
				t.Errorf("recorded\n%v\nwant\n%v", got, want)
			}
		})
	}
	// The harness adds its own judgement to the probe's sample.
	want, got := asMap(t, sample), asMap(t, harness)
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("harness %s = %v, the probe's sample says %v", k, got[k], v)
		}
	}
	if extra := slices.Sorted(maps.Keys(got)); len(extra) != len(want)+2 { // budget_us, overloaded
		t.Errorf("harness fields %v, want the sample's %d and budget_us, overloaded", extra, len(want))
	}
}

// TestHistogramNames: the workload names its histograms as the summary
// schema does.
func TestHistogramNames(t *testing.T) {
	for _, n := range [][2]string{
		{workloads.HistAcquireOK, summary.HistAcquireOK},
		{workloads.HistAcquireFail, summary.HistAcquireFail},
		{workloads.HistAcquireService, summary.HistAcquireService},
		{workloads.HistRelease, summary.HistRelease},
		{workloads.HistHandoff, summary.HistHandoff},
	} {
		if n[0] != n[1] {
			t.Errorf("the workload records histogram %q, the summary's schema calls it %q", n[0], n[1])
		}
	}
}
