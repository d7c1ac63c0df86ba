package metadata

import (
	"context"
	"fmt"
	"strings"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/mdkey"
)

// Pair is one key and its value.
type Pair struct {
	Key, Value string
}

// MD is a call's metadata: pairs in the order they were added. A nil MD
// is empty and ready to use.
type MD []Pair

// Pairs returns the metadata of kv, alternating keys and values; keys are
// lower-cased. It panics if kv has an odd number of strings, as a
// programming error.
func Pairs(kv ...string) MD {
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("fastrpc: metadata.Pairs got %d strings; it takes keys and values in pairs", len(kv)))
	}
	md := make(MD, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		md = append(md, Pair{Key: strings.ToLower(kv[i]), Value: kv[i+1]})
	}
	return md
}

// Get returns the first value of key (lower-cased), and whether there is
// one.
func (md MD) Get(key string) (string, bool) {
	key = lower(key)
	for _, p := range md {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Values returns every value of key (lower-cased), in order; nil when
// there is none.
func (md MD) Values(key string) []string {
	key = lower(key)
	var vs []string
	for _, p := range md {
		if p.Key == key {
			vs = append(vs, p.Value)
		}
	}
	return vs
}

// Size returns the bytes md takes on the wire.
func (md MD) Size() int {
	n := 0
	for _, p := range md {
		n += frame.MetadataPairSize(p.Key, p.Value)
	}
	return n
}

// Check reports whether md can be sent: valid keys, at most
// frame.MaxMetadataPairs pairs and frame.MaxMetadataSize bytes. The error
// matches frame.ErrMetadata.
func (md MD) Check() error {
	if len(md) > frame.MaxMetadataPairs {
		return fmt.Errorf("%w: %d pairs, the limit is %d", frame.ErrMetadata, len(md), frame.MaxMetadataPairs)
	}
	for _, p := range md {
		if err := frame.CheckMetadataKey(p.Key); err != nil {
			return err
		}
	}
	if n := md.Size(); n > frame.MaxMetadataSize {
		return fmt.Errorf("%w: %d bytes encoded, the limit is %d", frame.ErrMetadata, n, frame.MaxMetadataSize)
	}
	return nil
}

// Parse decodes a metadata block (see package frame) into a new MD; an
// empty block gives nil. It allocates only after the whole block has been
// checked, exactly what the pairs need.
func Parse(block []byte) (MD, error) {
	n, err := frame.ParseMetadata(block, nil)
	if err != nil || n == 0 {
		return nil, err
	}
	md := make(MD, 0, n)
	_, _ = frame.ParseMetadata(block, func(k, v []byte) {
		md = append(md, Pair{Key: string(k), Value: string(v)})
	})
	return md, nil
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

type outgoingKey struct{}

type captureKey struct{}

// NewOutgoingContext returns ctx carrying md as the metadata of the calls
// made with it, replacing what ctx carried. md must not be changed
// afterwards.
func NewOutgoingContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, outgoingKey{}, md)
}

// AppendToOutgoingContext returns ctx carrying its outgoing metadata
// followed by kv, alternating keys and values (lower-cased). ctx itself
// is not changed. It panics if kv has an odd number of strings.
func AppendToOutgoingContext(ctx context.Context, kv ...string) context.Context {
	add := Pairs(kv...)
	old := FromOutgoingContext(ctx)
	md := make(MD, 0, len(old)+len(add))
	md = append(append(md, old...), add...)
	return context.WithValue(ctx, outgoingKey{}, md)
}

// FromOutgoingContext returns the outgoing metadata of ctx, nil when it
// has none. It must not be changed.
func FromOutgoingContext(ctx context.Context) MD {
	md, _ := ctx.Value(outgoingKey{}).(MD)
	return md
}

// NewIncomingContext returns ctx carrying md as the metadata a call
// arrived with, as a master gives its handlers; for tests of handlers.
func NewIncomingContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, mdkey.Incoming{}, md)
}

// FromIncomingContext returns the metadata the call of ctx (a handler's
// context, or one derived from it) arrived with, nil when none. It must
// not be changed.
func FromIncomingContext(ctx context.Context) MD {
	md, _ := ctx.Value(mdkey.Incoming{}).(MD)
	return md
}

// CaptureResponse returns ctx such that a call made with it stores the
// metadata its response carries in *dst (nil when none). A call without it
// drops response metadata unread.
func CaptureResponse(ctx context.Context, dst *MD) context.Context {
	return context.WithValue(ctx, captureKey{}, dst)
}

// CaptureTarget returns where a call made with ctx stores its response's
// metadata, nil when the caller did not ask (see CaptureResponse). The
// slave uses it.
func CaptureTarget(ctx context.Context) *MD {
	dst, _ := ctx.Value(captureKey{}).(*MD)
	return dst
}
