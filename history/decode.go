package history

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// UnmarshalJSON decodes one history line (a JSON object, as [AppendJSON]
// writes it) into e and checks its fields against DESIGN §4 — not the
// protocol, which needs the whole history (see [Validate]). Errors wrap
// [ErrMalformed].
func (e *Event) UnmarshalJSON(data []byte) error {
	var p parser
	has, msg := p.parse(data, e)
	switch {
	case msg == "" && isMarker(e.Type):
		msg = markerName(e.Type) + ", not an event"
	case msg == "":
		msg = checkEvent(e, has)
	}
	if msg != "" {
		return fmt.Errorf("history event: %s: %w", msg, ErrMalformed)
	}
	return nil
}

// msgEOF is the parser's message when the line ends before the object
// does: for the last line of a file without a newline, a truncated write.
const msgEOF = "malformed JSON: unexpected end of line"

const (
	// maxInterned bounds the parser's table of strings seen before.
	maxInterned = 1 << 14
	// maxInternedLen is the longest string interned: keys, targets and
	// faults repeat and are short; error texts are often unique.
	maxInternedLen = 64
)

// parser decodes history lines by hand: a flat JSON object whose values
// are integers and strings. It reports the first problem from left to
// right, so a line cut short by a killed writer fails with msgEOF and
// nothing else. Repeated strings (keys, targets) are interned: decoding
// them allocates once per history, not once per line.
type parser struct {
	scratch []byte
	strs    map[string]string
}

// parse decodes line (without its newline) into e. It returns the fields
// present — string fields only when non-empty, fence and deadline only
// when non-zero, as the encoder writes them — or what is wrong with the
// line. It checks JSON syntax, field names and value types; checkEvent
// checks the rest.
func (p *parser) parse(b []byte, e *Event) (fieldSet, string) {
	*e = Event{}
	i := skipWS(b, 0)
	if i == len(b) {
		return 0, msgEOF
	}
	if b[i] != '{' {
		return 0, syntaxError(b, i, "where an object should start")
	}
	i = skipWS(b, i+1)
	if i == len(b) {
		return 0, msgEOF
	}
	var seen, has fieldSet
	if b[i] == '}' {
		i++
	} else {
		for {
			if b[i] != '"' {
				return 0, syntaxError(b, i, "where a field name should start")
			}
			name, j, msg := p.str(b, i)
			if msg != "" {
				return 0, msg
			}
			f := fieldOf(name)
			if f == 0 {
				return 0, fmt.Sprintf("unknown field %q", name)
			}
			if seen&f != 0 {
				return 0, fmt.Sprintf("duplicate field %q", name)
			}
			seen |= f
			if i = skipWS(b, j); i == len(b) {
				return 0, msgEOF
			}
			if b[i] != ':' {
				return 0, syntaxError(b, i, "after a field name")
			}
			if i = skipWS(b, i+1); i == len(b) {
				return 0, msgEOF
			}
			if i, msg = p.value(b, i, f, e, &has); msg != "" {
				return 0, msg
			}
			if i = skipWS(b, i); i == len(b) {
				return 0, msgEOF
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return 0, syntaxError(b, i, "after a field's value")
			}
			if i = skipWS(b, i+1); i == len(b) {
				return 0, msgEOF
			}
		}
	}
	if i = skipWS(b, i); i != len(b) {
		return 0, syntaxError(b, i, "after the object")
	}
	return has, ""
}

// value decodes the value of field f at b[i:] into e, adding f to has
// when it counts as present; it returns where the value ends.
func (p *parser) value(b []byte, i int, f fieldSet, e *Event, has *fieldSet) (int, string) {
	switch f {
	case fTime, fProcess, fTTL, fFence, fDeadline, fValue, fOffset, fUncertainty:
		v, j, msg := parseInt(b, i, f)
		if msg != "" {
			return 0, msg
		}
		switch f {
		case fTime:
			e.Time = v
		case fProcess:
			if int64(int(v)) != v {
				return 0, fmt.Sprintf("field process: %d out of range", v)
			}
			e.Process = int(v)
		case fTTL:
			e.TTLms = v
		case fFence:
			e.Fence = v
		case fDeadline:
			e.Deadline = v
		case fValue:
			e.Value = v
		case fOffset:
			e.Offset = v
		case fUncertainty:
			e.Uncertainty = v
		}
		if v != 0 || f&(fFence|fDeadline) == 0 {
			*has |= f
		}
		return j, ""
	}
	if b[i] != '"' {
		return 0, wantError(b, i, f, "a string")
	}
	s, j, msg := p.str(b, i)
	if msg != "" {
		return 0, msg
	}
	switch f {
	case fType:
		if e.Type = lineTypeOf(string(s)); e.Type == 0 {
			return 0, fmt.Sprintf("unknown type %q", s)
		}
	case fOp:
		if e.Op = opOf(string(s)); e.Op == 0 {
			return 0, fmt.Sprintf("unknown op %q", s)
		}
	case fKey:
		e.Key = p.intern(s)
	case fError:
		e.Error = p.intern(s)
	case fFault:
		e.Fault = p.intern(s)
	case fTarget:
		e.Target = p.intern(s)
	case fPhase:
		e.Phase = p.intern(s)
	}
	if len(s) > 0 || f&(fType|fOp) != 0 {
		*has |= f
	}
	return j, ""
}

// fieldOf is the field named name, or 0.
func fieldOf(name []byte) fieldSet {
	switch string(name) {
	case "time":
		return fTime
	case "process":
		return fProcess
	case "type":
		return fType
	case "op":
		return fOp
	case "key":
		return fKey
	case "ttl_ms":
		return fTTL
	case "fence":
		return fFence
	case "deadline":
		return fDeadline
	case "value":
		return fValue
	case "error":
		return fError
	case "fault":
		return fFault
	case "target":
		return fTarget
	case "phase":
		return fPhase
	case "offset":
		return fOffset
	case "uncertainty":
		return fUncertainty
	}
	return 0
}

// intern returns b as a string, the same string for the same bytes.
func (p *parser) intern(b []byte) string {
	if len(b) > maxInternedLen {
		return string(b)
	}
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if p.strs == nil {
		p.strs = make(map[string]string)
	}
	if len(p.strs) < maxInterned {
		p.strs[s] = s
	}
	return s
}

// skipWS skips JSON whitespace from b[i:].
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// syntaxError describes the unexpected byte b[i].
func syntaxError(b []byte, i int, where string) string {
	if c := b[i]; c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("malformed JSON: unexpected %q at column %d, %s", c, i+1, where)
	}
	return fmt.Sprintf("malformed JSON: unexpected byte 0x%02x at column %d, %s", b[i], i+1, where)
}

// wantError says field f's value at b[i:] is not what it should be.
func wantError(b []byte, i int, f fieldSet, want string) string {
	var got string
	switch c := b[i]; {
	case c == '"':
		got = "a string"
	case c == '-' || c >= '0' && c <= '9':
		got = "a number"
	case c == '{':
		got = "an object"
	case c == '[':
		got = "an array"
	case c == 't' || c == 'f':
		got = "a boolean"
	case c == 'n':
		got = "null"
	default:
		return syntaxError(b, i, "where a value should start")
	}
	return fmt.Sprintf("field %s: want %s, got %s at column %d", fieldName(f), want, got, i+1)
}

// parseInt decodes the JSON integer at b[i:], the value of field f.
func parseInt(b []byte, i int, f fieldSet) (int64, int, string) {
	start := i
	neg := b[i] == '-'
	if neg {
		if i++; i == len(b) {
			return 0, 0, msgEOF
		}
		if b[i] < '0' || b[i] > '9' {
			return 0, 0, syntaxError(b, i, "in a number")
		}
	}
	if b[i] < '0' || b[i] > '9' {
		return 0, 0, wantError(b, i, f, "an integer")
	}
	var u uint64
	overflow := false
	if b[i] == '0' {
		i++
	} else {
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			d := uint64(b[i] - '0')
			if u > (1<<64-1-d)/10 {
				overflow = true
			} else {
				u = u*10 + d
			}
		}
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, 0, fmt.Sprintf("field %s: not an integer at column %d", fieldName(f), start+1)
	}
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	if overflow || u > limit {
		return 0, 0, fmt.Sprintf("field %s: %s out of range", fieldName(f), b[start:i])
	}
	if neg {
		return -int64(u), i, ""
	}
	return int64(u), i, ""
}

// str decodes the JSON string at b[i:] (b[i] is its opening quote). It
// returns the bytes (aliasing b or p's scratch buffer, valid until the next
// call) and where the string ends. Invalid UTF-8 bytes and unpaired
// surrogates become U+FFFD, as encoding/json does.
func (p *parser) str(b []byte, i int) ([]byte, int, string) {
	i++
	start := i
	for i < len(b) {
		c := b[i]
		if c == '"' {
			return b[start:i], i + 1, ""
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	return p.strSlow(b, start, i)
}

// strSlow is str for a string with escapes or non-ASCII: b[start:i] is
// plain, b[i] is not. It decodes into p.scratch.
func (p *parser) strSlow(b []byte, start, i int) ([]byte, int, string) {
	s := append(p.scratch[:0], b[start:i]...)
	for {
		if i == len(b) {
			p.scratch = s
			return nil, 0, msgEOF
		}
		c := b[i]
		switch {
		case c == '"':
			p.scratch = s
			return s, i + 1, ""
		case c == '\\':
			if i++; i == len(b) {
				p.scratch = s
				return nil, 0, msgEOF
			}
			switch b[i] {
			case '"', '\\', '/':
				s = append(s, b[i])
			case 'b':
				s = append(s, '\b')
			case 'f':
				s = append(s, '\f')
			case 'n':
				s = append(s, '\n')
			case 'r':
				s = append(s, '\r')
			case 't':
				s = append(s, '\t')
			case 'u':
				r, j, msg := hex4(b, i+1)
				if msg != "" {
					p.scratch = s
					return nil, 0, msg
				}
				if utf16.IsSurrogate(r) {
					if j+1 < len(b) && b[j] == '\\' && b[j+1] == 'u' {
						r2, j2, msg := hex4(b, j+2)
						if msg != "" {
							p.scratch = s
							return nil, 0, msg
						}
						if r = utf16.DecodeRune(r, r2); r != unicode.ReplacementChar {
							j = j2
						}
					} else {
						r = unicode.ReplacementChar
					}
				}
				s = utf8.AppendRune(s, r)
				i = j
				continue
			default:
				p.scratch = s
				return nil, 0, syntaxError(b, i, "in a string escape")
			}
			i++
		case c < 0x20:
			p.scratch = s
			return nil, 0, syntaxError(b, i, "in a string (control characters must be escaped)")
		case c < utf8.RuneSelf:
			s = append(s, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				s = utf8.AppendRune(s, utf8.RuneError)
			} else {
				s = append(s, b[i:i+size]...)
			}
			i += size
		}
	}
}

// hex4 decodes the 4 hex digits of a \u escape at b[i:].
func hex4(b []byte, i int) (rune, int, string) {
	var r rune
	for k := 0; k < 4; k++ {
		if i+k == len(b) {
			return 0, 0, msgEOF
		}
		c := b[i+k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, 0, syntaxError(b, i+k, "in a \\u escape")
		}
		r = r<<4 | rune(c)
	}
	return r, i + 4, ""
}
