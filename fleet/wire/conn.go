package wire

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// maxLine bounds one message: a result carries its histograms (tens of
// KiB compressed), an event a few hundred bytes.
const maxLine = 64 << 20

// flushEvery is how long a queued message waits at most before it is
// written: events are queued (many per write), control messages sent at
// once.
const flushEvery = 5 * time.Millisecond

// ErrProtocol marks a line that is not a message of this protocol.
var ErrProtocol = errors.New("agent protocol broken")

// Conn is one end of a controller–agent connection. Send and Queue are
// safe for concurrent use; Recv is for one goroutine.
type Conn struct {
	c  net.Conn
	mu sync.Mutex
	w  *bufio.Writer
	// err is the first write error: later writes return it.
	err     error
	pending bool // queued bytes not yet flushed
	r       *bufio.Reader
	stop    chan struct{}
	once    sync.Once
}

// NewConn wraps c; it starts the goroutine that flushes queued messages.
func NewConn(c net.Conn) *Conn {
	cn := &Conn{c: c, w: bufio.NewWriterSize(c, 64<<10), r: bufio.NewReaderSize(c, 64<<10), stop: make(chan struct{})}
	go cn.flusher()
	return cn
}

// Send writes m and flushes it now.
func (c *Conn) Send(m *Message) error { return c.write(m, true) }

// Queue writes m into the buffer; it reaches the other end within
// flushEvery, or with the next Send.
func (c *Conn) Queue(m *Message) error { return c.write(m, false) }

func (c *Conn) write(m *Message, flush bool) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Type, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	b = append(b, '\n')
	if _, err := c.w.Write(b); err != nil {
		c.err = fmt.Errorf("send %s: %w", m.Type, err)
		return c.err
	}
	c.pending = true
	if flush {
		return c.flushLocked()
	}
	return nil
}

func (c *Conn) flushLocked() error {
	if !c.pending || c.err != nil {
		return c.err
	}
	if err := c.w.Flush(); err != nil {
		c.err = fmt.Errorf("send: %w", err)
		return c.err
	}
	c.pending = false
	return nil
}

// Flush writes what is queued now.
func (c *Conn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

func (c *Conn) flusher() {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			_ = c.Flush() // an error is sticky: the next Send returns it
		}
	}
}

// Recv reads the next message. A line that is not a message is an error
// wrapping ErrProtocol; the end of the connection is io.EOF.
func (c *Conn) Recv() (*Message, error) {
	line, err := c.readLine()
	if err != nil {
		return nil, err
	}
	var m Message
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("%w: not a message (%v)", ErrProtocol, err)
	}
	if m.Type == "" {
		return nil, fmt.Errorf("%w: a message without a type", ErrProtocol)
	}
	return &m, nil
}

func (c *Conn) readLine() ([]byte, error) {
	var buf []byte
	for {
		part, isPrefix, err := c.r.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				return nil, fmt.Errorf("%w: the connection ended inside a message", ErrProtocol)
			}
			return nil, err
		}
		buf = append(buf, part...)
		if len(buf) > maxLine {
			return nil, fmt.Errorf("%w: a message longer than %d bytes", ErrProtocol, maxLine)
		}
		if !isPrefix {
			return buf, nil
		}
	}
}

// SetReadDeadline bounds the next Recv (zero: none).
func (c *Conn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// Close flushes what is queued, if it can, and closes the connection.
func (c *Conn) Close() error {
	c.once.Do(func() { close(c.stop) })
	_ = c.Flush()
	return c.c.Close()
}

// RemoteAddr is the other end's address.
func (c *Conn) RemoteAddr() string { return c.c.RemoteAddr().String() }
