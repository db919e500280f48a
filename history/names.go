package history

import "fmt"

// ParseType returns the Type named s in the file ("invoke", "ok", "fail",
// "info", "crash", "nemesis", "clock").
func ParseType(s string) (Type, error) {
	if t := typeOf(s); t != 0 {
		return t, nil
	}
	return 0, fmt.Errorf("history: unknown type %q: %w", s, ErrMalformed)
}

// ParseOp returns the Op named s in the file ("acquire", "release",
// "extend", "read", "write").
func ParseOp(s string) (Op, error) {
	if o := opOf(s); o != 0 {
		return o, nil
	}
	return 0, fmt.Errorf("history: unknown op %q: %w", s, ErrMalformed)
}

// MarshalText is t's name in the file; an invalid Type is an error.
func (t Type) MarshalText() ([]byte, error) {
	if t < Invoke || t > ClockSample {
		return nil, fmt.Errorf("history: invalid type %d: %w", uint8(t), ErrMalformed)
	}
	return []byte(t.String()), nil
}

// UnmarshalText sets t from its name in the file.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalText is o's name in the file; an invalid Op is an error.
func (o Op) MarshalText() ([]byte, error) {
	if o < Acquire || o > Write {
		return nil, fmt.Errorf("history: invalid op %d: %w", uint8(o), ErrMalformed)
	}
	return []byte(o.String()), nil
}

// UnmarshalText sets o from its name in the file.
func (o *Op) UnmarshalText(b []byte) error {
	v, err := ParseOp(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// typeOf is the Type named s, or 0.
func typeOf(s string) Type {
	switch s {
	case "invoke":
		return Invoke
	case "ok":
		return OK
	case "fail":
		return Fail
	case "info":
		return Info
	case "crash":
		return Crash
	case "nemesis":
		return Nemesis
	case "clock":
		return ClockSample
	}
	return 0
}

// opOf is the Op named s, or 0.
func opOf(s string) Op {
	switch s {
	case "acquire":
		return Acquire
	case "release":
		return Release
	case "extend":
		return Extend
	case "read":
		return Read
	case "write":
		return Write
	}
	return 0
}
