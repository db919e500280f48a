package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/internal/testenv"
)

// secret is every test node's password: it must appear nowhere the run
// writes or prints.
const secret = "Pa55-S3CRET"

// shortCell is one short fault-free token cell.
var shortCell = []string{"--locks", "token", "--faults", "none", "--workload", "hot-key", "--clients", "2", "--duration", "1s"}

// urls joins the nodes' addresses as URLs with the given scheme and user.
func urls(scheme, userinfo string, addrs ...string) string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = fmt.Sprintf("%s://%s@%s", scheme, userinfo, a)
	}
	return strings.Join(out, ",")
}

// noSecret fails t if the password is in the output or in any file under
// dir (summary.json, histories, report.html, bench.txt, plots).
func noSecret(t *testing.T, dir string, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, secret) {
			t.Errorf("output shows the password: %s", o)
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the password", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunAgainstProductionLikeNodes: bench run reaches external nodes that
// want a password, an ACL user or TLS, from flags, a scenario file or
// the environment, and the password is nowhere in what it prints or
// writes.
func TestRunAgainstProductionLikeNodes(t *testing.T) {
	var pass []string
	for range 6 { // 5 lock nodes, then the resource
		pass = append(pass, testenv.StartRedis(t, nil, "--requirepass", secret))
	}
	acl := []string{}
	for range 2 {
		acl = append(acl, testenv.StartRedis(t, nil, "--user", "default", "off", "--user", "alice", "on", ">"+secret, "~*", "+@all"))
	}
	certs := testenv.MakeCerts(t)
	tlsNodes := []string{}
	for range 2 {
		tlsNodes = append(tlsNodes, testenv.StartRedis(t, &certs, "--requirepass", secret))
	}
	tlsURLs := urls("rediss", ":"+secret, tlsNodes...)
	scenario := filepath.Join(t.TempDir(), "external.yaml")
	yaml := fmt.Sprintf("name: external\nprovider: external\nnodes: 1\nlocks: [token]\nworkloads: [hot-key]\nfaults: [none]\nduration: 1s\nclients: 2\nredis:\n  addrs: [%q, %q]\n  tls_ca: %s\n",
		"rediss://:"+secret+"@"+tlsNodes[0], "rediss://:"+secret+"@"+tlsNodes[1], certs.CA)
	if err := os.WriteFile(scenario, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"requirepass", append([]string{"--redis-addrs", urls("redis", ":"+secret, pass...)}, shortCell...), nil},
		{"ACL user", append([]string{"--nodes", "1", "--redis-addrs", urls("redis", "alice:"+secret, acl...)}, shortCell...), nil},
		{"TLS from flags", append([]string{"--nodes", "1", "--redis-addrs", tlsURLs, "--redis-tls-ca", certs.CA}, shortCell...), nil},
		{"TLS from a scenario file", []string{"-s", scenario}, nil},
		{"TLS from the environment", append([]string{"--nodes", "1"}, shortCell...),
			map[string]string{"LOCKBENCH_REDIS_ADDRS": tlsURLs, "LOCKBENCH_REDIS_TLS_CA": certs.CA}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			args := append([]string{"run", "--provider", "external", "--out", out}, tc.args...)
			if code := run(args, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d, want 0:\n%s\n%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "token") {
				t.Errorf("no token cell in the table:\n%s", stdout.String())
			}
			for _, f := range []string{"summary.json", "report.html", "bench.txt", "cells/*/history.jsonl"} {
				if m, _ := filepath.Glob(filepath.Join(out, "*", f)); len(m) == 0 {
					t.Errorf("the run wrote no %s", f)
				}
			}
			noSecret(t, out, stdout.String(), stderr.String())
		})
	}
}

// TestExternalRefusalsAreOneLineWithoutThePassword: a bad URL, a missing
// password and a TLS node without its CA each stop the run in one line
// (exit 3) that says what to do and does not show the password.
func TestExternalRefusalsAreOneLineWithoutThePassword(t *testing.T) {
	plain := testenv.StartRedis(t, nil, "--requirepass", secret)
	certs := testenv.MakeCerts(t)
	tlsNode := testenv.StartRedis(t, &certs, "--requirepass", secret)
	for _, tc := range []struct {
		name  string
		addrs string
		extra []string
		want  string
	}{
		{"bad port", "redis://:" + secret + "@127.0.0.1:notaport", nil, "redis://:xxxxx@127.0.0.1:notaport"},
		{"not loopback", "redis://alice:" + secret + "@192.0.2.1:6379", nil, "redis://alice:xxxxx@192.0.2.1:6379"},
		{"bad escape", "redis://:" + secret + "%zz@127.0.0.1:1", nil, "not a URL"},
		{"no password", plain, nil, "redis://:PASSWORD@host:port"},
		{"wrong password", "redis://:x" + secret + "@" + plain, nil, "check the user and password"},
		{"TLS without the CA", "rediss://:" + secret + "@" + tlsNode, nil, "--redis-tls-ca"},
		{"TLS options without TLS", "redis://:" + secret + "@" + plain, []string{"--redis-tls-ca", certs.CA}, "rediss://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			args := append([]string{"run", "--provider", "external", "--nodes", "1", "--out", out, "--redis-addrs", tc.addrs + "," + tc.addrs}, tc.extra...)
			code := run(append(args, shortCell...), &stdout, &stderr)
			if code != exitBadInput {
				t.Errorf("exit %d, want %d", code, exitBadInput)
			}
			var errLines []string
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if !strings.HasPrefix(l, "·") {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) != 1 || !strings.Contains(errLines[0], tc.want) {
				t.Errorf("stderr %q: want one line saying %q", stderr.String(), tc.want)
			}
			noSecret(t, out, stdout.String(), stderr.String())
		})
	}
}

// TestCalibrateAgainstProductionLikeNodes: calibrate measures ACL and TLS
// nodes too without showing the password: redis-benchmark takes a
// password only on its command line, where ps shows it, so against a node
// with one (and over TLS) the bare loop is the only reference, and the
// output says why.
func TestCalibrateAgainstProductionLikeNodes(t *testing.T) {
	acl := []string{}
	for range 2 {
		acl = append(acl, testenv.StartRedis(t, nil, "--user", "default", "off", "--user", "alice", "on", ">"+secret, "~*", "+@all"))
	}
	certs := testenv.MakeCerts(t)
	tlsNodes := []string{}
	for range 2 {
		tlsNodes = append(tlsNodes, testenv.StartRedis(t, &certs, "--requirepass", secret))
	}
	for _, tc := range []struct {
		name           string
		args           []string
		redisBenchmark bool
	}{
		{"ACL user", []string{"--redis-addrs", urls("redis", "alice:"+secret, acl...)}, false},
		{"TLS", []string{"--redis-addrs", urls("rediss", ":"+secret, tlsNodes...), "--redis-tls-ca", certs.CA}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			args := append([]string{"calibrate", "--provider", "external", "--samples", "200", "--rounds", "1", "--duration", "300ms", "--no-pin", "--out", out}, tc.args...)
			code := run(args, &stdout, &stderr)
			files, _ := filepath.Glob(filepath.Join(out, "*", "calibrate.json"))
			if len(files) != 1 {
				t.Fatalf("exit %d, no calibrate.json:\n%s\n%s", code, stdout.String(), stderr.String())
			}
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := exec.LookPath("redis-benchmark"); err == nil && bytes.Contains(b, []byte(`"redis_benchmark"`)) != tc.redisBenchmark {
				t.Errorf("redis-benchmark measured: %v, want %v", !tc.redisBenchmark, tc.redisBenchmark)
			}
			if !tc.redisBenchmark && !strings.Contains(stdout.String()+stderr.String(), "no redis-benchmark limit") {
				t.Errorf("the output does not say why redis-benchmark was not run:\n%s\n%s", stdout.String(), stderr.String())
			}
			noSecret(t, out, stdout.String(), stderr.String())
		})
	}
}

// TestHelpShowsTheRedisFlags: every command that takes external nodes
// lists how to give their credentials and TLS.
func TestHelpShowsTheRedisFlags(t *testing.T) {
	for _, cmd := range []string{"run", "zoo", "calibrate"} {
		var stdout, stderr bytes.Buffer
		run([]string{cmd, "-h"}, &stdout, &stderr)
		for _, flag := range []string{"--redis-addrs", "rediss://", "--redis-tls-ca", "--redis-tls-cert", "--redis-tls-key", "--redis-tls-insecure", "LOCKBENCH_REDIS_TLS_CA"} {
			if !strings.Contains(stdout.String(), flag) {
				t.Errorf("bench %s -h does not show %s", cmd, flag)
			}
		}
	}
}
