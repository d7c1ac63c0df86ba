package typed

import (
	"io"
	"reflect"
	"slices"
	"sync"
)

// Payload buffers are pooled: a call encodes its request and reads its
// response into one, a handler reads its request and encodes its response
// into one. Codecs never alias their input in decoded values, so a buffer
// goes back to the pool as soon as the decoded value exists; neither
// callers nor handlers ever see one.
const (
	initialBuffer = 4 << 10
	// maxPooledBuffer bounds the buffers kept: a buffer grown beyond it
	// by a large payload is left to the garbage collector.
	maxPooledBuffer = 1 << 20
	// readChunk is the least a request buffer grows by while reading.
	readChunk = 64 << 10
)

var buffers = sync.Pool{New: func() any {
	b := make([]byte, 0, initialBuffer)
	return &b
}}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(p *[]byte) {
	if cap(*p) > maxPooledBuffer {
		return
	}
	*p = (*p)[:0]
	buffers.Put(p)
}

const maxInt = int(^uint(0) >> 1)

// readPayload appends exactly n bytes from r to b. The buffer grows with
// the bytes that actually arrive (at most doubling), not with the length
// the header claims, so a request that announces 64 MiB and sends nothing
// costs nothing.
func readPayload(r io.Reader, b []byte, n int) ([]byte, error) {
	end := len(b) + n
	for len(b) < end {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(end-len(b), max(len(b), readChunk)))
		}
		k, err := io.ReadFull(r, b[len(b):min(cap(b), end)])
		b = b[:len(b)+k]
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// box pools hold the *T through which a request or response crosses a
// codec's any-typed API. Taking the address of a local for that would move
// it to the heap on every call; a pooled box makes the codec's own
// allocations the only ones. Boxes are zeroed before they go back, so
// nothing decoded stays reachable from the pool.
type boxPool[T any] struct{ p sync.Pool }

func (b *boxPool[T]) get() *T {
	if v := b.p.Get(); v != nil {
		return v.(*T)
	}
	return new(T)
}

func (b *boxPool[T]) put(p *T) {
	var zero T
	*p = zero
	b.p.Put(p)
}

var boxPools sync.Map // reflect.Type -> *boxPool[T]

// boxesFor returns the box pool for T, shared by every call with T.
func boxesFor[T any]() *boxPool[T] {
	t := reflect.TypeFor[T]()
	if v, ok := boxPools.Load(t); ok {
		return v.(*boxPool[T])
	}
	v, _ := boxPools.LoadOrStore(t, new(boxPool[T]))
	return v.(*boxPool[T])
}
