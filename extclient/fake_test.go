package extclient

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/internal/leakcheck"
)

// fakeArg makes the test binary a fake lock client (see runFake) when it
// is its first argument: the tests need no toolchain but Go's.
const fakeArg = "extclient-fake"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == fakeArg {
		os.Exit(runFake(os.Args[2], os.Args[3:]))
	}
	leakcheck.Main(m)
}

// fake is the command line of a fake client of kind with args.
func fake(kind string, args ...string) []string {
	return append([]string{os.Args[0], fakeArg, kind}, args...)
}

// runFake is a fake lock client speaking protocol v1. Kinds:
//   - script: args are the replies to the first requests, in order, with
//     ID replaced by the request's id and PID by its pid; SILENT answers nothing, EXIT exits
//     with status 3, CLOSESTDIN closes stdin, answers ok and sleeps. Past the script it is the in-memory lock.
//   - env: acquire ok with the lease "CLIENT|NODES|TOPOLOGY|PROTOCOL" of
//     its LOCKBENCH_* environment; says hello on stderr first.
//   - slow-start: the in-memory lock after half a second.
//   - silent-if-0: never answers as LOCKBENCH_CLIENT 0, else the
//     in-memory lock.
//
// The in-memory lock holds key→lease with a fence counter; the key
// "unknown" answers info.
func runFake(kind string, args []string) int {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	reply := func(s string) {
		out.WriteString(s + "\n")
		out.Flush()
	}
	client := os.Getenv("LOCKBENCH_CLIENT")
	if kind == "slow-start" {
		time.Sleep(500 * time.Millisecond)
	}
	if kind == "env" {
		fmt.Fprintf(os.Stderr, "hello from %s\nsecond line", client)
	}
	held := map[string]string{}
	var fence, n int
	for in.Scan() {
		var req struct {
			ID    int64   `json:"id"`
			Op    string  `json:"op"`
			Key   string  `json:"key"`
			Lease *string `json:"lease"`
			TTLms int64   `json:"ttl_ms"`
		}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fmt.Fprintf(os.Stderr, "bad request %q: %v\n", in.Text(), err)
			return 2
		}
		id := strconv.FormatInt(req.ID, 10)
		n++
		switch {
		case kind == "script" && n <= len(args):
			switch s := args[n-1]; s {
			case "SILENT":
			case "EXIT":
				return 3
			case "CLOSESTDIN":
				// Deaf but alive: this request answered ok, the next
				// cannot be sent.
				os.Stdin.Close()
				reply(`{"id":` + id + `,"type":"ok","lease":"L"}`)
				time.Sleep(30 * time.Second)
				return 0
			default:
				s = strings.ReplaceAll(s, "PID", strconv.Itoa(os.Getpid()))
				reply(strings.ReplaceAll(s, "ID", id))
			}
			continue
		case kind == "env":
			lease := strings.Join([]string{client, os.Getenv("LOCKBENCH_NODES"), os.Getenv("LOCKBENCH_TOPOLOGY"), os.Getenv("LOCKBENCH_PROTOCOL")}, "|")
			b, _ := json.Marshal(map[string]any{"id": req.ID, "type": "ok", "lease": lease})
			reply(string(b))
			continue
		case kind == "silent-if-0" && client == "0":
			continue
		}
		// The in-memory lock.
		r := map[string]any{"id": req.ID, "type": "ok"}
		switch {
		case req.Key == "unknown":
			r["type"], r["error"] = "info", "timeout"
		case req.Op == "acquire":
			if _, ok := held[req.Key]; ok {
				r["type"], r["error"] = "fail", "not obtained"
				break
			}
			fence++
			lease := "lease-" + client + "-" + strconv.Itoa(fence)
			held[req.Key] = lease
			r["lease"], r["fence"], r["validity_ms"] = lease, fence, req.TTLms
		case req.Lease == nil || held[req.Key] != *req.Lease:
			r["type"], r["error"] = "fail", "not ours"
		case req.Op == "release":
			delete(held, req.Key)
		case req.Op == "extend":
			r["validity_ms"] = req.TTLms
		default:
			r["type"], r["error"] = "fail", "unknown op "+req.Op
		}
		b, _ := json.Marshal(r)
		reply(string(b))
	}
	return 0
}

// slack is what a loaded machine may add to a deadline.
const slack = 2 * time.Second
