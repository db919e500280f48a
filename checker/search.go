package checker

import (
	"runtime"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// searchVerdict is porcupine's verdict on one key.
type searchVerdict uint8

const (
	searchNotRun searchVerdict = iota
	searchOK
	searchIllegal
	searchUnknown
)

// searchKeys runs porcupine on each key, one key per call so that every
// key gets its own verdict (porcupine stops at the first illegal partition
// of a call), on GOMAXPROCS workers, all sharing one deadline: a key whose
// search starts after it, or does not finish by it, is unknown.
func searchKeys(d *digest, model porcupine.Model, keys []int32, deadline time.Time) []searchVerdict {
	out := make([]searchVerdict, len(keys))
	if len(keys) == 0 {
		return out
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(keys)) {
		wg.Go(func() {
			for i := range next {
				out[i] = searchKey(d, model, keys[i], deadline)
			}
		})
	}
	for i := range keys {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// searchKey runs porcupine on key k until deadline, with the windows
// narrowed, ties ordered and the history cut into segments (see narrow,
// orderTies, segments): the same verdict, found without the wrong guesses
// and the memory that make a long hot key slow.
func searchKey(d *digest, model porcupine.Model, k int32, deadline time.Time) searchVerdict {
	return searchSegments(d, model, keyOperations(d, k, nil), minSegment, deadline)
}

// searchSegments is searchKey on ops, cutting segments of at least least
// operations.
func searchSegments(d *digest, model porcupine.Model, ops []porcupine.Operation, least int, deadline time.Time) searchVerdict {
	if !narrow(d, ops) {
		return searchOps(model, ops, deadline)
	}
	orderTies(ops)
	segs, ok := segments(ops, least)
	if !ok {
		return searchOps(model, ops, deadline)
	}
	verdict := searchOK
	for _, seg := range segs {
		m, init := model, seg.init
		m.Init = func() any { return init }
		switch searchOps(m, seg.ops, deadline) {
		case searchIllegal:
			return searchIllegal
		case searchUnknown:
			verdict = searchUnknown
		}
	}
	return verdict
}

// searchOps runs porcupine on one key's ops until deadline.
func searchOps(model porcupine.Model, ops []porcupine.Operation, deadline time.Time) searchVerdict {
	if len(ops) == 0 {
		return searchOK
	}
	left := time.Until(deadline)
	if left <= 0 {
		return searchUnknown
	}
	switch porcupine.CheckOperationsTimeout(model, ops, left) {
	case porcupine.Ok:
		return searchOK
	case porcupine.Illegal:
		return searchIllegal
	default:
		return searchUnknown
	}
}
