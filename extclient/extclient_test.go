package extclient

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

var _ workloads.ProcessLocker = (*Locker)(nil)

// newLocker builds a locker running command, closed with the test.
func newLocker(t testing.TB, command []string, timeout time.Duration) *Locker {
	t.Helper()
	l, err := New(Config{Spec: Spec{Name: "fake", Command: command, Release: ReleaseOwner},
		Nodes: []string{"127.0.0.1:7001", "127.0.0.1:7002"}, Topology: "standalone", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pid := l.Pid()
		if err := l.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if pid != 0 {
			assertGone(t, pid)
		}
	})
	return l
}

// assertGone checks that pid is neither running nor a zombie.
func assertGone(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("client process %d still exists (kill 0: %v)", pid, err)
	}
}

func TestExtLockSemantics(t *testing.T) {
	ctx := context.Background()
	l := newLocker(t, fake("script"), 5*time.Second)
	const ttl = 500 * time.Millisecond
	before := time.Now()
	a, err := l.Acquire(ctx, "k", ttl)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() != "k" || !strings.HasPrefix(a.Token(), "lease-0-") {
		t.Errorf("lease key %q token %q", a.Key(), a.Token())
	}
	if f, ok := a.Fence(); f != 1 || !ok {
		t.Errorf("fence %d %v, want 1 true", f, ok)
	}
	if d := a.Deadline(); d.Before(before.Add(ttl)) || d.After(after.Add(ttl)) {
		t.Errorf("deadline %v not within [%v, %v] + ttl", d, before, after)
	}
	if _, err := l.Acquire(ctx, "k", ttl); !errors.Is(err, locks.ErrNotObtained) || errors.Is(err, locks.ErrUnknown) {
		t.Errorf("second acquire: %v, want ErrNotObtained only", err)
	}
	old := a.Deadline()
	time.Sleep(5 * time.Millisecond)
	if err := a.Extend(ctx, ttl); err != nil {
		t.Fatal(err)
	}
	if !a.Deadline().After(old) {
		t.Errorf("extend left the deadline at %v (was %v)", a.Deadline(), old)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); !errors.Is(err, locks.ErrLost) {
		t.Errorf("second release: %v, want ErrLost", err)
	}
	if err := a.Extend(ctx, ttl); !errors.Is(err, locks.ErrLost) {
		t.Errorf("extend after release: %v, want ErrLost", err)
	}
	b, err := l.Acquire(ctx, "k", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := b.Fence(); f != 2 {
		t.Errorf("next fence %d, want 2", f)
	}
	_, err = l.Acquire(ctx, "unknown", ttl)
	if !errors.Is(err, locks.ErrUnknown) || errors.Is(err, locks.ErrClientGone) || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("info reply: %v, want ErrUnknown with the client's message", err)
	}
}

// TestExtReplies: each reply to an acquire, valid or not, gives its
// outcome; a line that breaks the protocol is an ErrProtocol quoting it.
func TestExtReplies(t *testing.T) {
	long := `{"id":ID,"type":"ok","lease":"` + strings.Repeat("x", 300) + `","fence":"a"}`
	for _, tc := range []struct {
		name  string
		reply string
		want  error  // nil: ok
		quote string // for ErrProtocol: in the message
	}{
		{"ok", `{"id":ID,"type":"ok","lease":"L"}`, nil, ""},
		{"ok with extra fields", `{"id":ID,"type":"ok","lease":"","x":1}`, nil, ""},
		{"fail", `{"id":ID,"type":"fail","error":"busy"}`, locks.ErrNotObtained, ""},
		{"info", `{"id":ID,"type":"info"}`, locks.ErrUnknown, ""},
		{"bad JSON", `this is not json`, ErrProtocol, `not a JSON reply`},
		{"unknown type", `{"id":ID,"type":"okay"}`, ErrProtocol, `unknown "type" "okay": {"id":1,"type":"okay"}`},
		{"mismatched id", `{"id":99,"type":"ok","lease":"L"}`, ErrProtocol, `unknown "id" 99`},
		{"no id", `{"type":"ok","lease":"L"}`, ErrProtocol, `no "id"`},
		{"no type", `{"id":ID}`, ErrProtocol, `no "type"`},
		{"no lease", `{"id":ID,"type":"ok","fence":3}`, ErrProtocol, `acquire ok without "lease"`},
		{"fence not an int", `{"id":ID,"type":"ok","lease":"L","fence":1.5}`, ErrProtocol, `"fence":1.5`},
		{"negative validity", `{"id":ID,"type":"ok","lease":"L","validity_ms":-4}`, ErrProtocol, `negative "validity_ms"`},
		{"long line", long, ErrProtocol, `"type":"ok","lease":"xxxxxxxx`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocker(t, fake("script", tc.reply), 5*time.Second)
			l.Process(3)
			_, err := l.Acquire(context.Background(), "k", time.Second)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want != ErrProtocol {
				return
			}
			msg := err.Error()
			if !errors.Is(err, locks.ErrFatal) || errors.Is(err, locks.ErrClientGone) {
				t.Errorf("%v: want ErrFatal, not ErrClientGone", err)
			}
			if !strings.HasPrefix(msg, "client fake (process 3) broke protocol v1 at stdout line 1: ") || !strings.Contains(msg, tc.quote) {
				t.Errorf("message %q, want the line number and %q", msg, tc.quote)
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || len(pe.Quote) > quoteMax+len("…") {
				t.Errorf("quote of %d bytes, want at most %d", len(pe.Quote), quoteMax)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines: %q", msg)
			}
		})
	}
}

// TestExtGarbageOnThirdRequest: the line number counts the client's
// stdout lines; the process is dropped and the next call starts anew.
func TestExtGarbageOnThirdRequest(t *testing.T) {
	ctx := context.Background()
	ok := `{"id":ID,"type":"ok","lease":"L"}`
	l := newLocker(t, fake("script", ok, ok, "garbage!"), 5*time.Second)
	for range 2 {
		if _, err := l.Acquire(ctx, "k", time.Second); err != nil {
			t.Fatal(err)
		}
	}
	pid := l.Pid()
	_, err := l.Acquire(ctx, "k", time.Second)
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "at stdout line 3: ") || !strings.HasSuffix(err.Error(), ": garbage!") {
		t.Fatalf("got %v", err)
	}
	assertGone(t, pid)
	if _, err := l.Acquire(ctx, "k", time.Second); err != nil {
		t.Errorf("after a protocol error: %v", err)
	}
}

// TestExtClientGone: a client that does not answer in time, exits or is
// frozen gives ErrClientGone (and ErrUnknown) within the timeout; the
// process is killed and reaped, and the next call runs a new one.
func TestExtClientGone(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ok := `{"id":ID,"type":"ok","lease":"L"}`
	for _, tc := range []struct {
		name    string
		command []string
		before  int // successful acquires first
		freeze  bool
		ctx     time.Duration // a context deadline shorter than timeout, if any
		says    string
		recover bool // the next process answers
	}{
		{"never answers", fake("script", "SILENT"), 0, false, 0, "no reply within", false},
		{"context deadline first", fake("script", "SILENT"), 0, false, 100 * time.Millisecond, "no reply within", false},
		{"exits mid-way", fake("script", ok, ok, "EXIT"), 2, false, 0, "exit status 3", true},
		{"frozen", fake("script"), 1, true, 0, "no reply within", true},
		{"stdin closed", fake("script", ok, "CLOSESTDIN"), 2, false, 0, "cannot send", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocker(t, tc.command, timeout)
			for i := range tc.before {
				if _, err := l.Acquire(context.Background(), "k"+string(rune('a'+i)), time.Second); err != nil {
					t.Fatal(err)
				}
			}
			if tc.freeze {
				if err := l.Stop(); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			pid := l.Pid()
			start := time.Now()
			_, err := l.Acquire(ctx, "k", time.Second)
			took := time.Since(start)
			if !errors.Is(err, locks.ErrClientGone) || !errors.Is(err, locks.ErrUnknown) || errors.Is(err, locks.ErrFatal) {
				t.Fatalf("got %v, want ErrClientGone and ErrUnknown", err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%q does not say %q", err, tc.says)
			}
			limit := timeout
			if tc.ctx > 0 {
				limit = tc.ctx
			}
			if took > limit+slack {
				t.Errorf("took %v, want within %v", took, limit+slack)
			}
			if tc.ctx > 0 && took >= timeout {
				t.Errorf("took %v: the context's deadline of %v did not count", took, tc.ctx)
			}
			if pid != 0 {
				assertGone(t, pid)
			}
			if l.Pid() != 0 {
				t.Errorf("a process still runs after the error")
			}
			if err := l.Cont(); err != nil { // nothing runs: a no-op
				t.Errorf("cont with nothing running: %v", err)
			}
			l.Process(1)
			if _, err := l.Acquire(context.Background(), "k", time.Second); tc.recover {
				if err != nil {
					t.Errorf("the next call: %v", err)
				}
				if l.Pid() == pid || l.Pid() == 0 {
					t.Errorf("the next call ran in pid %d (was %d)", l.Pid(), pid)
				}
			}
		})
	}
}

// TestExtSilentFirstProcessThenRecovered: as the worker does after a
// crash, Process gives a new id and the new process answers.
func TestExtSilentFirstProcessThenRecovered(t *testing.T) {
	l := newLocker(t, fake("silent-if-0"), 200*time.Millisecond)
	l.Process(0)
	if _, err := l.Acquire(context.Background(), "k", time.Second); !errors.Is(err, locks.ErrClientGone) {
		t.Fatalf("process 0: %v, want ErrClientGone", err)
	}
	l.Process(4)
	a, err := l.Acquire(context.Background(), "k", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.Token(), "lease-4-") {
		t.Errorf("token %q: not from process 4", a.Token())
	}
}

// TestExtProcessEnvironment: the client gets LOCKBENCH_* from Config and
// Process, a new id replaces the running process, and its stderr reaches
// the log line by line with its prefix.
func TestExtProcessEnvironment(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Config{Spec: Spec{Name: "env", Command: fake("env"), Release: ReleasePlain},
		Nodes: []string{"127.0.0.1:1", "[::1]:2"}, Topology: "standalone", Timeout: 5 * time.Second, Log: SyncWriter(&buf)})
	if err != nil {
		t.Fatal(err)
	}
	l.Process(7)
	a, err := l.Acquire(context.Background(), "k", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := "7|127.0.0.1:1,[::1]:2|standalone|1"; a.Token() != want {
		t.Errorf("client saw %q, want %q", a.Token(), want)
	}
	pid := l.Pid()
	l.Process(9)
	assertGone(t, pid)
	if a, err = l.Acquire(context.Background(), "k", time.Second); err != nil || !strings.HasPrefix(a.Token(), "9|") {
		t.Errorf("after Process(9): %v, %v", a, err)
	}
	pid = l.Pid()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid)
	want := "[client 7] hello from 7\n[client 7] second line\n[client 9] hello from 9\n[client 9] second line\n"
	if buf.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", buf.String(), want)
	}
	if _, err := l.Acquire(context.Background(), "k", time.Second); !errors.Is(err, ErrClosed) || !errors.Is(err, locks.ErrFatal) {
		t.Errorf("acquire after close: %v, want ErrClosed and ErrFatal", err)
	}
}

// TestExtKillStopCont: Kill kills and reaps at once; Kill, Stop and Cont
// with nothing running do nothing; a stopped then continued client
// answers.
func TestExtKillStopCont(t *testing.T) {
	ctx := context.Background()
	l := newLocker(t, fake("script"), 5*time.Second)
	for _, f := range []func() error{l.Kill, l.Stop, l.Cont} {
		if err := f(); err != nil {
			t.Errorf("with nothing running: %v", err)
		}
	}
	if _, err := l.Acquire(ctx, "a", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := l.Cont(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, "b", time.Second); err != nil {
		t.Errorf("after stop and cont: %v", err)
	}
	pid := l.Pid()
	if err := l.Kill(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid)
	// A new process: the lock the killed one held is not its.
	if _, err := l.Acquire(ctx, "a", time.Second); err != nil || l.Pid() == pid {
		t.Errorf("after kill: %v, pid %d (was %d)", err, l.Pid(), pid)
	}
}

// TestExtStartTimeout: a slow start counts against the first request
// unless StartTimeout allows for it; later requests get Timeout only.
func TestExtStartTimeout(t *testing.T) {
	for _, tc := range []struct {
		start time.Duration
		ok    bool
	}{{0, false}, {5 * time.Second, true}} {
		l, err := New(Config{Spec: Spec{Name: "slow", Command: fake("slow-start"), Release: ReleaseOwner},
			Nodes: []string{"127.0.0.1:1"}, Timeout: 200 * time.Millisecond, StartTimeout: tc.start})
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Acquire(context.Background(), "k", time.Second)
		if ok := err == nil; ok != tc.ok || (!ok && !errors.Is(err, locks.ErrClientGone)) {
			t.Errorf("start timeout %v: %v, want ok=%v", tc.start, err, tc.ok)
		}
		if tc.ok {
			if _, err := l.Acquire(context.Background(), "k2", time.Second); err != nil {
				t.Errorf("second request: %v", err)
			}
		}
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestExtKillReachesWhatAWrapperStarted: a client started through a
// shell that stays its parent dies with it on Kill, as on a timeout.
func TestExtKillReachesWhatAWrapperStarted(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	for _, kill := range []string{"Kill", "timeout"} {
		t.Run(kill, func(t *testing.T) {
			cmd := "'" + strings.Join(fake("script", `{"id":ID,"type":"ok","lease":"PID"}`, "SILENT"), "' '") + "'; echo done"
			l := newLocker(t, []string{"/bin/sh", "-c", cmd}, 300*time.Millisecond)
			a, err := l.Acquire(context.Background(), "k", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			child, err := strconv.Atoi(a.Token())
			if err != nil || child == l.Pid() {
				t.Fatalf("the fake's pid %q, the shell's %d: the shell did not stay", a.Token(), l.Pid())
			}
			if kill == "Kill" {
				err = l.Kill()
			} else {
				_, err = l.Acquire(context.Background(), "k", time.Second)
			}
			if kill == "Kill" && err != nil || kill == "timeout" && !errors.Is(err, locks.ErrClientGone) {
				t.Fatal(err)
			}
			// Not our child: init reaps it, a zombie until then.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				b, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
				if err != nil || strings.Contains(string(b), ") Z ") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the client behind the shell still runs: %s", b)
				}
			}
		})
	}
}

func TestExtCannotStartIsFatal(t *testing.T) {
	l := newLocker(t, []string{"/nonexistent/lock-client"}, time.Second)
	_, err := l.Acquire(context.Background(), "k", time.Second)
	if !errors.Is(err, locks.ErrFatal) || !strings.Contains(err.Error(), "cannot start") {
		t.Errorf("got %v, want ErrFatal saying it cannot start", err)
	}
}

func TestExtParseFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"py=python3 client.py", []string{"python3", "client.py"}, false},
		{"py=  python3\t -u  client.py ", []string{"python3", "-u", "client.py"}, false},
		{`js=node 'my client.js' "a \"b\" \n" c\ d ''`, []string{"node", "my client.js", `a "b" \n`, "c d", ""}, false},
		{"noequals", nil, true},
		{"=python3", nil, true},
		{"py=", nil, true},
		{"bad name=x", nil, true},
		{"token=python3 x", nil, true}, // a built-in strategy's name
		{"py=python3 'open", nil, true},
		{`py=python3 x\`, nil, true},
	} {
		s, err := ParseFlag(tc.in)
		if tc.err {
			if !errors.Is(err, ErrBadSpec) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: %v, want a one-line ErrBadSpec", tc.in, err)
			}
			continue
		}
		if err != nil || strings.Join(s.Command, "|") != strings.Join(tc.want, "|") || s.Release != ReleaseOwner {
			t.Errorf("%q: %q %q %v, want %q owner", tc.in, s.Command, s.Release, err, tc.want)
		}
	}
}

func TestExtNewRejectsBadConfig(t *testing.T) {
	good := Spec{Name: "x", Command: []string{"x"}, Release: ReleaseOwner}
	for _, cfg := range []Config{
		{Spec: good},
		{Spec: Spec{Name: "x", Command: []string{"x"}, Release: "maybe"}, Nodes: []string{"a:1"}},
		{Spec: Spec{Name: "x", Release: ReleaseOwner}, Nodes: []string{"a:1"}},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrBadSpec) {
			t.Errorf("%+v: %v, want ErrBadSpec", cfg, err)
		}
	}
}

// BenchmarkProtocolRoundTrip is one acquire and release through the
// in-memory fake client: the protocol's own cost per cycle.
func BenchmarkProtocolRoundTrip(b *testing.B) {
	l := newLocker(b, fake("script"), 5*time.Second)
	ctx := context.Background()
	for b.Loop() {
		a, err := l.Acquire(ctx, "k", time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExtRefusingClientIsGivenUpOn: a client that exits before a single
// reply every time it starts (it refuses its topology, a module is
// missing) is replaced twice, and the third such exit ends the cell
// (locks.ErrFatal) instead of a restart loop for the whole cell. One that
// answered before it exited is replaced as often as it exits.
func TestExtRefusingClientIsGivenUpOn(t *testing.T) {
	l := newLocker(t, fake("script", "EXIT"), time.Second)
	for i := range maxUnanswered {
		l.Process(i)
		_, err := l.Acquire(context.Background(), "k", time.Second)
		last := i == maxUnanswered-1
		if last != errors.Is(err, locks.ErrFatal) || last == errors.Is(err, locks.ErrClientGone) {
			t.Fatalf("exit %d: %v; want ErrClientGone, then ErrFatal at exit %d", i+1, err, maxUnanswered)
		}
		if last && !strings.Contains(err.Error(), "exited before a single reply") {
			t.Errorf("%q does not say why it gave up", err)
		}
	}
	ok := `{"id":ID,"type":"ok","lease":"L"}`
	l = newLocker(t, fake("script", ok, "EXIT"), time.Second)
	for i := range 2 * maxUnanswered {
		l.Process(i)
		if _, err := l.Acquire(context.Background(), "a", time.Second); err != nil {
			t.Fatalf("round %d: the first request: %v", i, err)
		}
		if _, err := l.Acquire(context.Background(), "b", time.Second); !errors.Is(err, locks.ErrClientGone) || errors.Is(err, locks.ErrFatal) {
			t.Fatalf("round %d: an exit after a reply: %v, want ErrClientGone only", i, err)
		}
	}
}
