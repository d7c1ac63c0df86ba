package frame

import (
	"encoding/binary"
	"fmt"
)

// Capability describes one method a master serves, as listed by the
// built-in capabilities method.
type Capability struct {
	Name              string
	Description       string
	IncomingEncoding  string
	ReturningEncoding string
}

// AppendCapabilities appends the capabilities body for caps to b. It fails,
// appending nothing, when a string is longer than [MaxStringLen].
func AppendCapabilities(b []byte, caps []Capability) ([]byte, error) {
	for _, c := range caps {
		for _, s := range [...]string{c.Name, c.Description, c.IncomingEncoding, c.ReturningEncoding} {
			if len(s) > MaxStringLen {
				return b, fmt.Errorf("fastrpc: frame: capability %q has a string of %d bytes, the limit is %d", c.Name, len(s), MaxStringLen)
			}
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(caps)))
	for _, c := range caps {
		for _, s := range [...]string{c.Name, c.Description, c.IncomingEncoding, c.ReturningEncoding} {
			b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
			b = append(b, s...)
		}
	}
	return b, nil
}

// ParseCapabilities decodes a capabilities body. Every length is checked
// against the bytes actually present before anything is allocated, so a
// hostile body cannot make it allocate more than len(b) permits.
func ParseCapabilities(b []byte) ([]Capability, error) {
	caps, rest, err := parseCapabilityList(b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCapabilities, len(rest))
	}
	return caps, nil
}

// parseCapabilityList decodes the list of methods that starts a
// capabilities body and returns what follows it.
func parseCapabilityList(b []byte) ([]Capability, []byte, error) {
	if len(b) < 4 {
		return nil, nil, ErrCapabilities
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	// Each entry needs at least 8 bytes of length fields.
	if uint64(n) > uint64(len(b))/8 {
		return nil, nil, fmt.Errorf("%w: %d entries claimed in %d bytes", ErrCapabilities, n, len(b))
	}
	caps := make([]Capability, 0, n)
	for i := uint32(0); i < n; i++ {
		var f [4]string
		for j := range f {
			if len(b) < 2 {
				return nil, nil, fmt.Errorf("%w: entry %d truncated", ErrCapabilities, i)
			}
			l := int(binary.BigEndian.Uint16(b))
			b = b[2:]
			if l > len(b) {
				return nil, nil, fmt.Errorf("%w: entry %d string of %d bytes truncated", ErrCapabilities, i, l)
			}
			f[j] = string(b[:l])
			b = b[l:]
		}
		caps = append(caps, Capability{Name: f[0], Description: f[1], IncomingEncoding: f[2], ReturningEncoding: f[3]})
	}
	return caps, b, nil
}
