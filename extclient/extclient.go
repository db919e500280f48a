package extclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lockbench/lockbench/locks"
)

// Errors of this package, besides the locks ones its errors wrap.
var (
	// ErrProtocol: a client's reply line is not valid protocol. Errors
	// wrapping it also wrap locks.ErrFatal: the cell ends with them.
	ErrProtocol = errors.New("protocol violation")
	// ErrClosed: the locker was closed. Errors wrapping it also wrap
	// locks.ErrFatal.
	ErrClosed = errors.New("external client closed")
)

// ProtocolVersion is the protocol version a Locker speaks
// (LOCKBENCH_PROTOCOL).
const ProtocolVersion = 1

// maxUnanswered is how many processes in a row may exit before their
// first reply before the client is given up on (locks.ErrFatal): one that
// refuses its environment would otherwise be restarted for the whole cell.
const maxUnanswered = 3

// DefaultTimeout is the per-request deadline when Config.Timeout is 0.
const DefaultTimeout = time.Second

// quoteMax is how much of a bad line an error quotes.
const quoteMax = 200

// Config is what a Locker is built from.
type Config struct {
	// Spec is the client to run.
	Spec Spec
	// Nodes are the lock nodes, host:port as this client's group reaches
	// them (LOCKBENCH_NODES).
	Nodes []string
	// Topology is standalone, sentinel or cluster (LOCKBENCH_TOPOLOGY).
	Topology string
	// Timeout is each request's deadline (the cell's command timeout);
	// a context deadline that comes first wins. Default DefaultTimeout.
	Timeout time.Duration
	// StartTimeout is added to the deadline of a new process's first
	// request, which waits for the client to start (an interpreter, a
	// JVM, its connections). 0: none; negative is refused.
	StartTimeout time.Duration
	// Log takes the client's stderr, one whole line per Write, prefixed
	// with "[client N] " (N: the history process id). It is shared by the
	// clients of a cell, so it must take concurrent Writes: an *os.File
	// does, and SyncWriter makes any writer do. Nil discards stderr.
	Log io.Writer
	// Dir is the client's working directory; "" is the harness's.
	Dir string
}

// SyncWriter returns a writer that passes each Write to w under a lock,
// for a Log that is not safe for concurrent use.
func SyncWriter(w io.Writer) io.Writer { return &syncWriter{w: w} }

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// Locker is a locks.Locker whose operations are requests to an external
// client process it runs, and a workloads.ProcessLocker. It runs one
// process at a time with one request in flight, started on the first
// operation after New, Process, Kill or a process that is gone.
type Locker struct {
	cfg Config
	env []string // LOCKBENCH_* but the client id

	op sync.Mutex // one request in flight: the protocol's rule

	mu sync.Mutex // guards what follows
	id int
	// unanswered counts the processes in a row that exited before their
	// first reply.
	unanswered int
	proc       *proc
	nextID     int64
	closed     bool
}

// New checks cfg and returns its Locker; no process runs until the first
// operation.
func New(cfg Config) (*Locker, error) {
	if err := cfg.Spec.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Nodes) == 0 {
		return nil, fmt.Errorf("external client %q: no lock nodes: %w", cfg.Spec.Name, ErrBadSpec)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.StartTimeout < 0 {
		return nil, fmt.Errorf("external client %q: negative start timeout %v: %w", cfg.Spec.Name, cfg.StartTimeout, ErrBadSpec)
	}
	env := []string{
		"LOCKBENCH_NODES=" + strings.Join(cfg.Nodes, ","),
		"LOCKBENCH_TOPOLOGY=" + cfg.Topology,
		"LOCKBENCH_PROTOCOL=" + strconv.Itoa(ProtocolVersion),
		// Three quarters of the harness's deadline: a client whose own
		// commands give up by then replies info before it is killed.
		"LOCKBENCH_TIMEOUT_MS=" + strconv.FormatInt(max(cfg.Timeout.Milliseconds()*3/4, 1), 10),
	}
	return &Locker{cfg: cfg, env: env}, nil
}

// Process sets the history process id the client process announces
// (LOCKBENCH_CLIENT). A running process with another id is killed: the
// next operation starts one with id.
func (l *Locker) Process(id int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.id = id
	if l.proc != nil && l.proc.id != id {
		_ = l.stopProc() // reaped or stuck in the kernel: either way not ours to use again
	}
}

// Kill kills the client process at once (SIGKILL to its process group)
// and reaps it; the next operation starts a new one. Nothing running is
// no error.
func (l *Locker) Kill() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopProc()
}

// Stop freezes the client process (SIGSTOP to its process group); a
// request to it then times out. Nothing running: a no-op.
func (l *Locker) Stop() error { return l.signal(syscall.SIGSTOP) }

// Cont thaws a stopped client process (SIGCONT). Nothing running: a no-op.
func (l *Locker) Cont() error { return l.signal(syscall.SIGCONT) }

func (l *Locker) signal(sig syscall.Signal) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.proc == nil {
		return nil
	}
	return l.proc.signal(sig)
}

// Close kills and reaps the running process, if any; later operations
// fail with ErrClosed.
func (l *Locker) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return l.stopProc()
}

// Pid is the running client process's pid, 0 when none runs.
func (l *Locker) Pid() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.proc == nil {
		return 0
	}
	return l.proc.pid
}

// stopProc kills and reaps the running process. l.mu is held.
func (l *Locker) stopProc() error {
	p := l.proc
	if p == nil {
		return nil
	}
	l.proc = nil
	return p.kill()
}

// running returns the running process, starting one if none runs
// (fresh), and the next request id. l.mu is not held.
func (l *Locker) running() (p *proc, id int64, fresh bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, 0, false, fmt.Errorf("external client %q: %w: %w", l.cfg.Spec.Name, ErrClosed, locks.ErrFatal)
	}
	l.nextID++
	if l.proc != nil {
		return l.proc, l.nextID, false, nil
	}
	env := append(l.env[:len(l.env):len(l.env)], "LOCKBENCH_CLIENT="+strconv.Itoa(l.id))
	p, err = start(l.cfg.Spec.Command, l.cfg.Dir, env, l.id, l.cfg.Log)
	if err != nil {
		return nil, 0, false, fmt.Errorf("external client %q (process %d) cannot start: %w: %w", l.cfg.Spec.Name, l.id, err, locks.ErrFatal)
	}
	l.proc = p
	return p, l.nextID, true, nil
}

// drop kills and reaps p if it is still the running process.
func (l *Locker) drop(p *proc) {
	l.mu.Lock()
	if l.proc == p {
		l.proc = nil
	}
	l.mu.Unlock()
	_ = p.kill() // a process stuck in the kernel is beyond the harness's reach
}

// request is one line to the client.
type request struct {
	ID    int64   `json:"id"`
	Op    string  `json:"op"`
	Key   string  `json:"key"`
	Lease *string `json:"lease,omitempty"`
	TTLms int64   `json:"ttl_ms,omitempty"`
}

// reply is one line from the client, as the protocol allows it.
type reply struct {
	ID         *int64  `json:"id"`
	Type       *string `json:"type"`
	Lease      *string `json:"lease"`
	Fence      *int64  `json:"fence"`
	ValidityMs *int64  `json:"validity_ms"`
	Error      *string `json:"error"`
}

// ttlMs is ttl in whole milliseconds, rounded up, at least 1.
func ttlMs(ttl time.Duration) int64 {
	return max(1, int64((ttl+time.Millisecond-1)/time.Millisecond))
}

// do sends req (its id set here) and returns the client's valid reply and
// when the request was sent. A reply of type fail or info is returned as
// is; the error is for a client gone (locks.ErrClientGone), a protocol
// violation (ErrProtocol) or a locker that cannot go on (locks.ErrFatal).
func (l *Locker) do(ctx context.Context, req request) (*reply, time.Time, error) {
	l.op.Lock()
	defer l.op.Unlock()
	if err := ctx.Err(); err != nil {
		// Nothing sent: an acquire certainly did not happen.
		notSent := locks.ErrUnknown
		if req.Op == "acquire" {
			notSent = locks.ErrNotObtained
		}
		return nil, time.Time{}, fmt.Errorf("client %s: %s %q not sent: %w: %w", l.cfg.Spec.Name, req.Op, req.Key, notSent, err)
	}
	p, id, fresh, err := l.running()
	if err != nil {
		return nil, time.Time{}, err
	}
	req.ID = id
	b, _ := json.Marshal(req) // strings and ints only: cannot fail
	b = append(b, '\n')

	wait := l.cfg.Timeout
	if fresh {
		// The process starts while its first request waits: an
		// interpreter or a JVM must not time out on its start-up.
		wait += l.cfg.StartTimeout
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	sent := time.Now()
	err = p.stdin.SetWriteDeadline(deadline)
	if err == nil {
		_, err = p.stdin.Write(b)
	}
	if err != nil {
		l.drop(p)
		return nil, sent, l.gone(p, req, "cannot send: "+err.Error(), nil)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case ln, ok := <-p.lines:
		if !ok {
			l.drop(p)
			if !p.answered {
				// It ended before a single reply: a client that refuses
				// its environment (a topology it does not support, a
				// missing module) does so every time it is started.
				l.mu.Lock()
				l.unanswered++
				n := l.unanswered
				l.mu.Unlock()
				if n >= maxUnanswered {
					return nil, sent, fmt.Errorf("client %s: %d processes in a row exited before a single reply (the last: %s); its stderr is in the cell's clients.log: %w",
						l.cfg.Spec.Name, n, p.status(), locks.ErrFatal)
				}
			}
			return nil, sent, l.gone(p, req, "exited or closed its stdout ("+p.status()+")", nil)
		}
		r, err := parse(ln, req)
		if err != nil {
			l.drop(p) // its replies can no longer be matched to requests
			return nil, sent, &ProtocolError{Client: l.cfg.Spec.Name, Process: p.id, Line: ln.no, Reason: err.Error(), Quote: quote(ln)}
		}
		p.answered = true
		l.mu.Lock()
		l.unanswered = 0
		l.mu.Unlock()
		return r, sent, nil
	case <-timer.C:
		l.drop(p)
		return nil, sent, l.gone(p, req, fmt.Sprintf("no reply within %v, killed", time.Since(sent).Round(time.Millisecond)), nil)
	case <-ctx.Done():
		l.drop(p)
		return nil, sent, l.gone(p, req, "request cancelled, killed", ctx.Err())
	}
}

// ProtocolError is a client's reply line that is not valid protocol. It
// wraps ErrProtocol and locks.ErrFatal: the cell ends with it.
type ProtocolError struct {
	// Client is the client's name (Spec.Name).
	Client string
	// Process is the history process id of the client process.
	Process int
	// Line is the line's number on that process's stdout, from 1.
	Line int
	// Reason says what is wrong with it.
	Reason string
	// Quote is the line's first 200 bytes.
	Quote string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("client %s (process %d) broke protocol v%d at stdout line %d: %s: %s",
		e.Client, e.Process, ProtocolVersion, e.Line, e.Reason, e.Quote)
}

// Unwrap makes errors.Is find ErrProtocol and locks.ErrFatal.
func (e *ProtocolError) Unwrap() []error { return []error{ErrProtocol, locks.ErrFatal} }

// gone is the error of a request whose client process is gone.
func (l *Locker) gone(p *proc, req request, why string, cause error) error {
	err := fmt.Errorf("client %s (process %d), request %d (%s %q): %s: %w: %w",
		l.cfg.Spec.Name, p.id, req.ID, req.Op, req.Key, why, locks.ErrClientGone, locks.ErrUnknown)
	if cause != nil {
		err = fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// quote is the start of a bad line, as an error shows it.
func quote(ln line) string {
	t := ln.text
	cut := ln.tooLong
	if len(t) > quoteMax {
		t, cut = t[:quoteMax], true
	}
	s := strings.ToValidUTF8(string(t), "\uFFFD")
	if cut {
		s += "…"
	}
	return s
}

// parse checks that ln is a valid reply to req.
func parse(ln line, req request) (*reply, error) {
	if ln.tooLong {
		return nil, fmt.Errorf("a line longer than %d bytes", maxLine)
	}
	var r reply
	if err := json.Unmarshal(ln.text, &r); err != nil {
		return nil, fmt.Errorf("not a JSON reply (%v)", err)
	}
	switch {
	case r.ID == nil:
		return nil, errors.New(`no "id"`)
	case *r.ID != req.ID:
		return nil, fmt.Errorf(`unknown "id" %d (the request in flight is %d)`, *r.ID, req.ID)
	case r.Type == nil:
		return nil, errors.New(`no "type"`)
	}
	switch *r.Type {
	case "ok", "fail", "info":
	default:
		return nil, fmt.Errorf(`unknown "type" %q`, *r.Type)
	}
	if *r.Type == "ok" && req.Op == "acquire" && r.Lease == nil {
		return nil, errors.New(`acquire ok without "lease"`)
	}
	if r.Fence != nil && *r.Fence < 0 {
		return nil, fmt.Errorf(`negative "fence" %d`, *r.Fence)
	}
	if r.ValidityMs != nil && *r.ValidityMs < 0 {
		return nil, fmt.Errorf(`negative "validity_ms" %d`, *r.ValidityMs)
	}
	return &r, nil
}

// message is what a fail or info reply says.
func (r *reply) message() string {
	if r.Error != nil && *r.Error != "" {
		return *r.Error
	}
	return "no error given"
}

// outcome maps a fail or info reply to its error: fail wraps certain (a
// certain failure of this operation), info wraps locks.ErrUnknown.
func (l *Locker) outcome(r *reply, req request, certain error) error {
	if *r.Type == "fail" {
		return fmt.Errorf("client %s: %s %q: %s: %w", l.cfg.Spec.Name, req.Op, req.Key, r.message(), certain)
	}
	return fmt.Errorf("client %s: %s %q: %s: %w", l.cfg.Spec.Name, req.Op, req.Key, r.message(), locks.ErrUnknown)
}

// Acquire asks the client to take key for ttl. Its own retries are the
// client's business, within the request's deadline.
func (l *Locker) Acquire(ctx context.Context, key string, ttl time.Duration) (locks.Lease, error) {
	req := request{Op: "acquire", Key: key, TTLms: ttlMs(ttl)}
	r, sent, err := l.do(ctx, req)
	if err != nil {
		return nil, err
	}
	if *r.Type != "ok" {
		return nil, l.outcome(r, req, locks.ErrNotObtained)
	}
	ls := &lease{l: l, key: key, token: *r.Lease}
	if r.Fence != nil {
		ls.fence, ls.fenced = *r.Fence, true
	}
	if r.ValidityMs != nil {
		ls.deadline = sent.Add(time.Duration(*r.ValidityMs) * time.Millisecond)
	}
	return ls, nil
}

// lease is a lock the client said it took.
type lease struct {
	l      *Locker
	key    string
	token  string
	fence  int64
	fenced bool

	mu       sync.Mutex
	deadline time.Time
}

func (s *lease) Key() string          { return s.key }
func (s *lease) Token() string        { return s.token }
func (s *lease) Fence() (int64, bool) { return s.fence, s.fenced }

func (s *lease) Deadline() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline
}

// Release asks the client to give the lock up.
func (s *lease) Release(ctx context.Context) error {
	req := request{Op: "release", Key: s.key, Lease: &s.token}
	r, _, err := s.l.do(ctx, req)
	if err != nil {
		return err
	}
	if *r.Type != "ok" {
		return s.l.outcome(r, req, locks.ErrLost)
	}
	return nil
}

// Extend asks the client for ttl more; a validity_ms in its reply moves
// Deadline.
func (s *lease) Extend(ctx context.Context, ttl time.Duration) error {
	req := request{Op: "extend", Key: s.key, Lease: &s.token, TTLms: ttlMs(ttl)}
	r, sent, err := s.l.do(ctx, req)
	if err != nil {
		return err
	}
	if *r.Type != "ok" {
		return s.l.outcome(r, req, locks.ErrLost)
	}
	if r.ValidityMs != nil {
		s.mu.Lock()
		s.deadline = sent.Add(time.Duration(*r.ValidityMs) * time.Millisecond)
		s.mu.Unlock()
	}
	return nil
}
