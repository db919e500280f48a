package extclient_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/extclient"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/locks"
)

// BenchmarkTokenCycle is the cost of the protocol, measured in one run:
// one acquire and release cycle of the token lock against a real
// redis-server, by the in-process token strategy and by the reference Go
// client clients/go/tokenclient (the same commands) through the external
// client protocol. benchstat -col /path reads the ratio:
//
//	go test -run '^$' -bench TokenCycle -count 6 ./extclient > t.txt
//	go run golang.org/x/perf/cmd/benchstat -col /path t.txt
func BenchmarkTokenCycle(b *testing.B) {
	addr := testenv.StartRedis(b, nil)
	bin := filepath.Join(b.TempDir(), "tokenclient")
	if out, err := exec.Command("go", "build", "-o", bin, "../clients/go/tokenclient").CombinedOutput(); err != nil {
		b.Skipf("cannot build the Go reference client: %v\n%s", err, out)
	}
	token, err := locks.Lookup("token")
	if err != nil {
		b.Fatal(err)
	}
	inProcess, err := token.New(locks.Config{Nodes: []endpoint.Endpoint{{Addr: addr}}, PoolSize: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer inProcess.Close()
	external, err := extclient.New(extclient.Config{Spec: extclient.Spec{Name: "go-token", Command: []string{bin}, Release: extclient.ReleaseOwner},
		Nodes: []string{addr}, Topology: "standalone", Timeout: time.Second, StartTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer external.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		path string
		l    locks.Locker
	}{{"in-process", inProcess}, {"external", external}} {
		b.Run("path="+tc.path, func(b *testing.B) {
			// One cycle outside the timing: the client process starts
			// and connects.
			cycle(b, ctx, tc.l)
			for b.Loop() {
				cycle(b, ctx, tc.l)
			}
		})
	}
}

// cycle acquires and releases one key.
func cycle(b *testing.B, ctx context.Context, l locks.Locker) {
	lease, err := l.Acquire(ctx, "bench:token", 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	if err := lease.Release(ctx); err != nil {
		b.Fatal(err)
	}
}
