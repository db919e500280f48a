package wire

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/history"
)

// TestConn: messages cross in order, queued ones with the next send, an
// event intact; a line that is no message is ErrProtocol, and the end of
// the connection io.EOF.
func TestConn(t *testing.T) {
	a, b := net.Pipe()
	ca, cb := NewConn(a), NewConn(b)
	defer cb.Close()
	go func() {
		_ = ca.Queue(&Message{Type: TypeEvent, Recorder: 3, Event: &history.Event{Time: 5, Process: 7, Type: history.Invoke, Op: history.Acquire, Key: "k", TTLms: 100}})
		_ = ca.Send(&Message{Type: TypeIdle, Recorder: 3, AgentNs: 9})
		_, _ = a.Write([]byte("not json\n"))
		_ = ca.Close()
	}()
	m, err := cb.Recv()
	if err != nil || m.Type != TypeEvent || m.Recorder != 3 || m.Event == nil || m.Event.Key != "k" || m.Event.TTLms != 100 || m.Event.Process != 7 {
		t.Fatalf("first message %+v (event %+v), %v", m, m.Event, err)
	}
	if m, err = cb.Recv(); err != nil || m.Type != TypeIdle || m.AgentNs != 9 {
		t.Fatalf("second message %+v, %v", m, err)
	}
	if _, err = cb.Recv(); !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "not a message") {
		t.Fatalf("garbage: %v, want ErrProtocol", err)
	}
	if _, err = cb.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v, want EOF", err)
	}
}
