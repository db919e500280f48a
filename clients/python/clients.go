package python

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// files are the clients and their shared helper, embedded so that the
// bench binary can run them from anywhere (bench zoo).
//
//go:embed *.py
var files embed.FS

// Client is one reference client: the name the zoo's rows give it, its
// file, what its release does (extclient.ReleaseOwner or ReleasePlain)
// and where it comes from.
type Client struct {
	Name, File, Release, Source string
}

// Clients are the reference clients shipped here.
func Clients() []Client {
	return []Client{
		{"py-setnx", "seed_setnx.py", "plain", "the seed's first Python lock: r.setnx(key, 1), then r.delete(key)"},
		{"py-set-nx-ex", "seed_set_nx_ex.py", "plain", "the seed's second Python lock: r.set(key, 1, nx=True, ex=ttl), then r.delete(key)"},
		{"py-redis-lock", "redis_py_lock.py", "owner", "redis-py's own redis.lock.Lock (a token lock with a Lua release)"},
	}
}

// Install writes every client and the shared helper into dir and
// returns each client's command line, by name, run with Interpreter().
func Install(dir string) (map[string][]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("install the Python clients: %w", err)
	}
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return nil, fmt.Errorf("install the Python clients: %w", err)
		}
	}
	py := Interpreter()
	out := map[string][]string{}
	for _, c := range Clients() {
		out[c.Name] = []string{py, filepath.Join(dir, c.File)}
	}
	return out, nil
}

// Interpreter is the python3 the clients run with: $LOCKBENCH_PYTHON,
// else python3 on PATH, else Debian's /usr/bin/python3. (The clients
// take Debian's python3-redis from its module directory when the
// interpreter lacks redis-py.)
func Interpreter() string {
	if p := os.Getenv("LOCKBENCH_PYTHON"); p != "" {
		return p
	}
	if p, err := exec.LookPath("python3"); err == nil {
		return p
	}
	return "/usr/bin/python3"
}
