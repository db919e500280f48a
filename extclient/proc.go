package extclient

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxLine bounds one line of a client's stdout or stderr; a longer one is
// cut (stdout: a protocol error, stderr: logged in pieces).
const maxLine = 1 << 20

// reapTimeout bounds the wait for a SIGKILLed process to be reaped and its
// pipes to close; a process that outlives it is stuck in the kernel.
const reapTimeout = 5 * time.Second

// line is one line of a client's stdout and its number (from 1).
type line struct {
	text    []byte
	no      int
	tooLong bool
}

// proc is one running client process.
type proc struct {
	id     int // the history process id it announced
	cmd    *exec.Cmd
	pid    int
	stdin  *os.File
	stdout *os.File
	stderr *os.File
	lines  chan line     // stdout, unbuffered: closed at EOF
	quit   chan struct{} // closed when the process is torn down
	exited chan struct{} // closed once cmd.Wait returned (reaped)
	pipes  sync.WaitGroup
	state  *os.ProcessState
	once   sync.Once
	reaped atomic.Bool // its group is gone: its pid may be another's now
	// answered: it gave a valid reply (read and written under the
	// Locker's one-request-at-a-time lock).
	answered bool
}

// start starts the client's process announcing id, with env added to the
// parent's environment; its stderr goes to log line by line, each line
// prefixed with "[client id] ".
func start(command []string, dir string, env []string, id int, log io.Writer) (*proc, error) {
	p := &proc{id: id, lines: make(chan line), quit: make(chan struct{}), exited: make(chan struct{})}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// A process group of its own: a kill or a stop reaches what a
	// wrapper (a shell, uv run, npx) started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	// Pipes of our own rather than cmd's: cmd.Wait must not close stdout
	// before its last lines are read, and Wait runs as soon as the
	// process exits, so that it never stays a zombie.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = cmd.Start()
	closeAll(inR, outW, errW) // the child has them now
	if err != nil {
		closeAll(inW, outR, errR)
		return nil, err
	}
	p.cmd, p.pid, p.stdin, p.stdout, p.stderr = cmd, cmd.Process.Pid, inW, outR, errR
	go func() {
		state, _ := cmd.Process.Wait() // the exit status is in state
		p.state = state
		close(p.exited)
	}()
	p.pipes.Add(2)
	go p.readStdout()
	go p.copyStderr(log, "[client "+strconv.Itoa(id)+"] ")
	return p, nil
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// readStdout hands the stdout lines to the operation waiting for them
// until EOF or teardown.
func (p *proc) readStdout() {
	defer p.pipes.Done()
	defer close(p.lines)
	r := bufio.NewReaderSize(p.stdout, 4096)
	for no := 1; ; no++ {
		text, tooLong, err := readLine(r)
		if err != nil && len(text) == 0 {
			return
		}
		select {
		case p.lines <- line{text: text, no: no, tooLong: tooLong}:
		case <-p.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// readLine reads one line without its end, at most maxLine bytes of it
// (tooLong: the rest was skipped).
func readLine(r *bufio.Reader) (text []byte, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if len(text)+len(chunk) > maxLine {
			tooLong = true
			chunk = chunk[:max(0, maxLine-len(text))]
		}
		text = append(text, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(text, "\r\n"), tooLong, err
	}
}

// copyStderr writes the client's stderr to log, one whole line per Write
// so that the lines of the clients sharing log never interleave.
func (p *proc) copyStderr(log io.Writer, prefix string) {
	defer p.pipes.Done()
	r := bufio.NewReaderSize(p.stderr, 4096)
	for {
		text, _, err := readLine(r)
		if len(text) > 0 || err == nil {
			if log != nil {
				log.Write([]byte(prefix + string(text) + "\n")) // a log that fails loses the client's chatter, not the cell
			}
		}
		if err != nil {
			return
		}
	}
}

// signal sends sig to the process's group; nothing if it is gone.
func (p *proc) signal(sig syscall.Signal) error {
	if p.reaped.Load() {
		return nil
	}
	if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%v to client process %d: %w", sig, p.pid, err)
	}
	return nil
}

// kill SIGKILLs the process group and reaps it.
func (p *proc) kill() error {
	err := p.signal(syscall.SIGKILL)
	return errors.Join(err, p.reap())
}

// reap waits for the process to be reaped and its pipes to be done, then
// releases them. A process that keeps its stdout open after exiting (a
// child that left the group holds it) is cut off after reapTimeout.
func (p *proc) reap() error {
	var err error
	p.once.Do(func() {
		t := time.NewTimer(reapTimeout)
		defer t.Stop()
		select {
		case <-p.exited:
		case <-t.C:
			err = fmt.Errorf("client process %d still running %v after SIGKILL", p.pid, reapTimeout)
		}
		close(p.quit)
		p.stdin.Close()
		done := make(chan struct{})
		go func() { p.pipes.Wait(); close(done) }()
		drain := time.NewTimer(time.Second)
		defer drain.Stop()
		select {
		case <-done:
		case <-drain.C:
		}
		// Closing the read ends ends the readers if something still
		// holds the write ends; after a normal exit they are done.
		p.stdout.Close()
		p.stderr.Close()
		<-done
		p.reaped.Store(err == nil)
	})
	return err
}

// status says how the process ended, once reaped.
func (p *proc) status() string {
	select {
	case <-p.exited:
		if p.state != nil {
			return strings.TrimSpace(p.state.String())
		}
		return "ended"
	default:
		return "running"
	}
}
