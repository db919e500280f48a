// Package cpuset pins processes to CPUs. Client and server of a benchmark
// on one machine share its CPUs; left to the scheduler, the client's
// threads migrate onto the server's CPU and both slow down by amounts
// that change from run to run. Pinned to disjoint CPUs they do not.
package cpuset

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUnsupported: this operating system cannot pin threads.
var ErrUnsupported = errors.New("CPU pinning is not supported on this OS")

// Format writes cpus as a list ("0", "0,2", "0-3").
func Format(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}
