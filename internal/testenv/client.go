package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"testing"
)

// Client is a lock client process driven through the external client
// protocol (docs/protocol.md) by a test: requests on its stdin, replies
// read from its stdout, its stderr kept.
type Client struct {
	t     testing.TB
	stdin io.WriteCloser
	lines chan string
	done  chan error
	// Stderr is what the process wrote on stderr (read it after Wait).
	Stderr *bytes.Buffer
	// Stdin takes raw lines (a test that sends garbage).
	Stdin io.Writer
}

// StartClient starts cmd (whose Env the caller set) as a protocol client;
// it is killed when the test ends.
func StartClient(t testing.TB, cmd *exec.Cmd) *Client {
	t.Helper()
	p := &Client{t: t, lines: make(chan string, 16), Stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.Stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	p.Stdin = p.stdin
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

// Ask sends one request line and returns its reply, decoded; the reply
// must carry the request's id.
func (p *Client) Ask(ctx context.Context, req string) map[string]any {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, req+"\n"); err != nil {
		p.t.Fatalf("send %s: %v (stderr: %s)", req, err, p.Stderr)
	}
	select {
	case ln, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("client exited before replying to %s; stderr: %s", req, p.Stderr)
		}
		var m, r map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			p.t.Fatalf("reply to %s is not JSON: %q", req, ln)
		}
		json.Unmarshal([]byte(req), &r)
		if m["id"] != r["id"] {
			p.t.Fatalf("reply %s to %s: wrong id", ln, req)
		}
		return m
	case <-ctx.Done():
		p.t.Fatalf("no reply to %s: %v; stderr: %s", req, ctx.Err(), p.Stderr)
		return nil
	}
}

// Step is one request of a scripted exchange, the reply type it must get
// (ok, fail or info; fail and info must carry an error), and what else
// must hold afterwards: Check returns "" when all is well. A test's own
// struct with these fields converts to it (testenv.Step(s)).
type Step struct {
	Req      string
	WantType string
	Check    func(reply map[string]any) string
}

// Exchange sends s's request and reports, without stopping the test, a
// reply of the wrong type, without an error, or failing s.Check.
func (p *Client) Exchange(ctx context.Context, s Step) {
	p.t.Helper()
	r := p.Ask(ctx, s.Req)
	if r["type"] != s.WantType {
		p.t.Errorf("%s → %v, want type %s", s.Req, r, s.WantType)
		return
	}
	if e, _ := r["error"].(string); s.WantType != "ok" && e == "" {
		p.t.Errorf("%s → %v: a %s without an error", s.Req, r, s.WantType)
	}
	if s.Check != nil {
		if msg := s.Check(r); msg != "" {
			p.t.Errorf("%s: %s", s.Req, msg)
		}
	}
}

// Wait closes stdin and returns the exit status.
func (p *Client) Wait(ctx context.Context) int {
	p.t.Helper()
	p.stdin.Close()
	for range p.lines {
	}
	select {
	case err := <-p.done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-ctx.Done():
		p.t.Fatalf("client did not exit: %v", ctx.Err())
		return -1
	}
}
