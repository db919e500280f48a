package history

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends e to dst as one JSON object in the format of DESIGN §4
// and returns the extended slice. It appends no newline: a line of the
// history is AppendJSON's output followed by '\n'.
//
// Only the fields §4 places on e's type and op are written, in the order
// time, process, type, op, key, ttl_ms, fence, deadline, value, error,
// fault, target, phase, offset, uncertainty: process on every event but
// nemesis; op and key on
// invoke/ok/fail/info; ttl_ms on acquire and extend invokes; fence on
// acquire ok and write invoke when non-zero; deadline on acquire and extend
// ok when non-zero; value on read ok and write invoke, zero included; error
// on fail and info when non-empty; fault, target and phase on nemesis;
// target, offset and uncertainty on clock, zeros included.
// Other fields of e are ignored. AppendJSON does not validate: an event
// [Validate] rejects gives a line the reader rejects too (an invalid type or
// op is written as "unknown"). Strings are escaped per RFC 8259 (quote,
// backslash and control characters; other characters are written as
// UTF-8); each byte of invalid UTF-8 becomes U+FFFD, as with encoding/json.
//
// AppendJSON allocates only when dst must grow; it uses no reflection.
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"time":`...)
	dst = strconv.AppendInt(dst, e.Time, 10)
	if e.Type != Nemesis {
		dst = append(dst, `,"process":`...)
		dst = strconv.AppendInt(dst, int64(e.Process), 10)
	}
	dst = append(dst, `,"type":"`...)
	dst = append(dst, e.Type.String()...)
	dst = append(dst, '"')
	switch e.Type {
	case Invoke, OK, Fail, Info:
		dst = append(dst, `,"op":"`...)
		dst = append(dst, e.Op.String()...)
		dst = append(dst, `","key":`...)
		dst = appendString(dst, e.Key)
		switch e.Type {
		case Invoke:
			switch e.Op {
			case Acquire, Extend:
				dst = append(dst, `,"ttl_ms":`...)
				dst = strconv.AppendInt(dst, e.TTLms, 10)
			case Write:
				if e.Fence != 0 {
					dst = append(dst, `,"fence":`...)
					dst = strconv.AppendInt(dst, e.Fence, 10)
				}
				dst = append(dst, `,"value":`...)
				dst = strconv.AppendInt(dst, e.Value, 10)
			}
		case OK:
			switch e.Op {
			case Acquire, Extend:
				if e.Fence != 0 && e.Op == Acquire {
					dst = append(dst, `,"fence":`...)
					dst = strconv.AppendInt(dst, e.Fence, 10)
				}
				if e.Deadline != 0 {
					dst = append(dst, `,"deadline":`...)
					dst = strconv.AppendInt(dst, e.Deadline, 10)
				}
			case Read:
				dst = append(dst, `,"value":`...)
				dst = strconv.AppendInt(dst, e.Value, 10)
			}
		default: // Fail, Info
			if e.Error != "" {
				dst = append(dst, `,"error":`...)
				dst = appendString(dst, e.Error)
			}
		}
	case Nemesis:
		dst = append(dst, `,"fault":`...)
		dst = appendString(dst, e.Fault)
		dst = append(dst, `,"target":`...)
		dst = appendString(dst, e.Target)
		dst = append(dst, `,"phase":`...)
		dst = appendString(dst, e.Phase)
	case ClockSample:
		dst = append(dst, `,"target":`...)
		dst = appendString(dst, e.Target)
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, e.Offset, 10)
		dst = append(dst, `,"uncertainty":`...)
		dst = strconv.AppendInt(dst, e.Uncertainty, 10)
	}
	return append(dst, '}')
}

// MarshalJSON encodes e as its history line (without the newline), so
// encoding/json writes events in the format of DESIGN §4.
func (e Event) MarshalJSON() ([]byte, error) {
	return AppendJSON(make([]byte, 0, 160), &e), nil
}

// String is e's history line, without the newline.
func (e Event) String() string {
	return string(AppendJSON(make([]byte, 0, 160), &e))
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, each invalid UTF-8 byte replaced by U+FFFD, every
// other character (non-ASCII included) written as is.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
