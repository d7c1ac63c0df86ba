package conn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/metadata"
)

// DefaultBufferSize is the size of each of a Conn's read and write buffers
// when Config leaves it zero: large enough that a small call is one read and
// one write system call, small enough for thousands of connections.
const DefaultBufferSize = 16 << 10

// Config sets a Conn's buffers. The zero value is ready to use.
type Config struct {
	// ReadBufferSize and WriteBufferSize are the buffer sizes in bytes;
	// 0 means DefaultBufferSize. Values below 64 are raised to 64 so a
	// header always fits.
	ReadBufferSize, WriteBufferSize int
	// ProbeAfter, when positive, is how long after reading a response
	// Stale trusts the connection without peeking at its socket: it saves
	// a system call per call on busy connections (a few percent of a small
	// call), at the price that a master dying within that window after its
	// last answer is found by the next call failing instead of by the peek.
	// 0 (the default) always peeks; 1ms is a reasonable value to opt in.
	ProbeAfter time.Duration
}

func bufSize(n int) int {
	if n == 0 {
		return DefaultBufferSize
	}
	return max(n, 64)
}

// Conn is a FastRpc-framed connection. See the package doc for its
// concurrency rules.
type Conn struct {
	nc      net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	scratch [frame.RequestHeaderSizeV2]byte
	probe   prober
	// version is the protocol version the handshake settled on; 1 until
	// then.
	version uint16
	// lastID is the ID of the last request written (version 2).
	lastID uint64
	// block holds the last metadata block read.
	block []byte
	// lastResponse is when the last response header was read, in monoNow
	// time; 0 before the first.
	lastResponse time.Duration
	probeAfter   time.Duration
	// callDeadline is what setCallDeadline last set.
	callDeadline    time.Time
	callDeadlineSet bool
}

// New wraps nc. It performs no I/O; see [Dial] and [Conn.ServerHandshake]
// for the preface exchange. It speaks version 1 until a handshake settles
// on another.
func New(nc net.Conn, cfg Config) *Conn {
	c := &Conn{
		nc:      nc,
		version: frame.Version1,
		br:      bufio.NewReaderSize(nc, bufSize(cfg.ReadBufferSize)),
		bw:      bufio.NewWriterSize(nc, bufSize(cfg.WriteBufferSize)),
	}
	c.probeAfter = max(cfg.ProbeAfter, 0)
	c.probe.init(nc)
	return c
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.nc.Close() }

// CloseWrite shuts down the writing side when the underlying connection
// supports it (TCP, unix, TLS), so the peer reads everything sent and then
// EOF. It returns nil and does nothing otherwise.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// SetDeadline sets the read and write deadlines of the underlying
// connection; a zero time removes them. It may be called concurrently with
// a blocked read or write, which then fails.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// setCallDeadline is SetDeadline for the goroutine that owns c, skipping
// the runtime's timer update when t is the deadline it last set (most calls
// have none, one after another). Only the owner may call it, and only on a
// Conn whose deadlines nothing else sets; see connhooks.Hooks.
func (c *Conn) setCallDeadline(t time.Time) error {
	if t.Equal(c.callDeadline) && c.callDeadlineSet {
		return nil
	}
	c.callDeadline, c.callDeadlineSet = t, true
	return c.nc.SetDeadline(t)
}

// SetReadDeadline sets the read deadline; see SetDeadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline; see SetDeadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// Version returns the protocol version the connection speaks: what the
// handshake settled on, 1 before one.
func (c *Conn) Version() uint16 { return c.version }

// WritePreface writes a master's preface with status and flushes it. It
// states version 1, which every slave accepts: it is how a master refuses
// a connection before reading anything ([ServerHandshake] answers a
// slave it serves).
func (c *Conn) WritePreface(status frame.HandshakeStatus) error {
	return c.writePreface(frame.Preface{Version: frame.Version1, Status: status})
}

func (c *Conn) writePreface(p frame.Preface) error {
	frame.PutPreface(c.scratch[:], p)
	if _, err := c.bw.Write(c.scratch[:frame.PrefaceSize]); err != nil {
		return err
	}
	return c.bw.Flush()
}

// ServerHandshake performs the master's side of the handshake on a
// connection it serves: it reads the slave's preface, settles on the
// lower of the slave's highest version and max (0 means
// frame.MaxVersion), and answers with that version and HandshakeOK. The
// caller bounds it with a deadline. Errors are ReadPreface's.
func (c *Conn) ServerHandshake(max uint16) error {
	if max == 0 || max > frame.MaxVersion {
		max = frame.MaxVersion
	}
	p, err := c.ReadPreface()
	if err != nil {
		return err
	}
	if p.Version != frame.Version1 {
		// Slaves state version 1 and offer more in the status field.
		return &frame.VersionError{Local: frame.Version1, Remote: p.Version}
	}
	v := frame.Negotiate(p, max)
	if err := c.writePreface(frame.Preface{Version: v, Status: frame.HandshakeOK}); err != nil {
		return err
	}
	c.version = v
	return nil
}

// ReadPreface reads and validates the peer's preface. Errors from
// [frame.ParsePreface] are wrapped with what was received.
func (c *Conn) ReadPreface() (frame.Preface, error) {
	b, err := c.br.Peek(frame.PrefaceSize)
	if err != nil {
		if len(b) > 0 && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
			// Something answered, but not with a whole preface: not FastRpc.
			return frame.Preface{}, fmt.Errorf("%w: got %q then end of stream%s", frame.ErrBadMagic, b, tlsHint(b))
		}
		return frame.Preface{}, err
	}
	p, err := frame.ParsePreface(b)
	if errors.Is(err, frame.ErrBadMagic) {
		err = fmt.Errorf("%w: got %q%s", err, b, tlsHint(b))
	}
	_, _ = c.br.Discard(frame.PrefaceSize)
	return p, err
}

// tlsHint recognises a TLS record (alert or handshake) where a preface
// was expected.
func tlsHint(b []byte) string {
	if len(b) >= 2 && b[1] == 0x03 && (b[0] == 0x15 || b[0] == 0x16) {
		return " (the peer speaks TLS: use TLS on both sides or on neither)"
	}
	return ""
}

// waitForData blocks until at least one byte is readable (the start of the
// next frame) and returns nil, or returns the read error.
func (c *Conn) waitForData() error {
	_, err := c.br.Peek(1)
	return err
}

// unsent returns how many bytes written to the connection its socket
// still holds, not yet acknowledged by the peer, where the system tells
// (Linux; ok is false elsewhere, and for connections without a socket).
// It does not block. A writer blocked on a slow reader is woken only once
// a large part of the socket's send buffer has drained (a third of up to
// several MiB), so a falling Unsent is how a caller sees the reader's
// progress while the write is still blocked. It may be called
// concurrently with a blocked Write.
func (c *Conn) unsent() (n int, ok bool) { return c.probe.unsent() }

// takeCancel consumes a cancel frame if one is next; see
// connhooks.Hooks.TakeCancel.
func (c *Conn) takeCancel(id uint64) (bool, error) {
	if c.version < frame.Version2 {
		return false, nil
	}
	b, err := c.br.Peek(frame.RequestHeaderSizeV2)
	if err != nil {
		return false, eofIsUnexpected(err, len(b))
	}
	h, err := frame.ParseRequestHeaderV2(b)
	if err != nil || h.Kind != frame.KindCancel || h.ID != id {
		return false, nil // the connection's goroutine finds out
	}
	_, _ = c.br.Discard(frame.RequestHeaderSizeV2)
	return true, nil
}

// buffered returns how many received bytes are buffered and not yet read.
func (c *Conn) buffered() int { return c.br.Buffered() }

// ReadRequestHeader reads and decodes a request header, or in version 2
// a cancel frame (Kind frame.KindCancel).
func (c *Conn) ReadRequestHeader() (frame.RequestHeader, error) {
	if c.version >= frame.Version2 {
		b, err := c.br.Peek(frame.RequestHeaderSizeV2)
		if err != nil {
			return frame.RequestHeader{}, eofIsUnexpected(err, len(b))
		}
		h, err := frame.ParseRequestHeaderV2(b)
		_, _ = c.br.Discard(frame.RequestHeaderSizeV2)
		return h, err
	}
	b, err := c.br.Peek(frame.RequestHeaderSize)
	if err != nil {
		return frame.RequestHeader{}, eofIsUnexpected(err, len(b))
	}
	h, err := frame.ParseRequestHeader(b)
	_, _ = c.br.Discard(frame.RequestHeaderSize)
	return h, err
}

// RequestHeaderSize is the size of a request header in the connection's
// version.
func (c *Conn) RequestHeaderSize() int {
	if c.version >= frame.Version2 {
		return frame.RequestHeaderSizeV2
	}
	return frame.RequestHeaderSize
}

// ErrCallID means a version 2 response named another call than the one
// in flight: the peer broke the protocol, and the connection must be
// closed; the response is not the call's answer.
var ErrCallID = errors.New("fastrpc: the master answered another call than the one in flight (protocol violation)")

// ReadResponseHeader reads and decodes a response header. In version 2 it
// checks that the response answers the last request written: a response
// with another ID gives ErrCallID (the notice of a closing connection,
// StatusShuttingDown with ID 0, answers any).
func (c *Conn) ReadResponseHeader() (frame.ResponseHeader, error) {
	size := frame.ResponseHeaderSize
	if c.version >= frame.Version2 {
		size = frame.ResponseHeaderSizeV2
	}
	b, err := c.br.Peek(size)
	if err != nil {
		return frame.ResponseHeader{}, eofIsUnexpected(err, len(b))
	}
	var h frame.ResponseHeader
	if size == frame.ResponseHeaderSizeV2 {
		h, err = frame.ParseResponseHeaderV2(b)
		if err == nil && h.ID != c.lastID && (h.ID != 0 || h.Status != frame.StatusShuttingDown) {
			err = fmt.Errorf("%w: got call %d, call %d is in flight", ErrCallID, h.ID, c.lastID)
		}
	} else {
		h, err = frame.ParseResponseHeader(b)
	}
	_, _ = c.br.Discard(size)
	if c.probeAfter > 0 {
		c.lastResponse = monoNow() // only the probe window needs the clock
	}
	return h, err
}

// ReadMetadata reads a metadata block of n bytes, n being the Metadata of
// the header just read, and returns it; the slice is valid until the next
// ReadMetadata. The buffer grows with the bytes received, up to
// frame.MaxMetadataSize, whatever n claims.
func (c *Conn) ReadMetadata(n uint32) ([]byte, error) {
	if n > frame.MaxMetadataSize {
		return nil, fmt.Errorf("%w: a block of %d bytes, the limit is %d", frame.ErrMetadata, n, frame.MaxMetadataSize)
	}
	c.block = c.block[:0]
	for left := int(n); left > 0; {
		if c.br.Buffered() == 0 {
			if _, err := c.br.Peek(1); err != nil {
				return nil, eofIsUnexpected(err, 1)
			}
		}
		b, _ := c.br.Peek(min(left, c.br.Buffered()))
		c.block = append(c.block, b...)
		_, _ = c.br.Discard(len(b))
		left -= len(b)
	}
	return c.block, nil
}

// WriteMetadata buffers the metadata block md, after a header whose
// Metadata is md.Size(). The caller has checked md against the limits
// (metadata.MD.Check).
func (c *Conn) WriteMetadata(md metadata.MD) error {
	for _, p := range md {
		_ = c.bw.WriteByte(byte(len(p.Key)))
		_, _ = c.bw.WriteString(p.Key)
		_ = c.bw.WriteByte(byte(len(p.Value) >> 8))
		_ = c.bw.WriteByte(byte(len(p.Value)))
		if _, err := c.bw.WriteString(p.Value); err != nil {
			return err // a bufio.Writer's error sticks: the earlier writes failed too
		}
	}
	return nil
}

// eofIsUnexpected turns an EOF after part of a frame into
// io.ErrUnexpectedEOF; a clean EOF before the first byte stays io.EOF.
func eofIsUnexpected(err error, got int) error {
	if err == io.EOF && got > 0 {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ErrVersion1 means a frame needs protocol version 2 (metadata, a cancel
// frame) and the connection speaks version 1; nothing was written.
var ErrVersion1 = errors.New("fastrpc: the master speaks protocol version 1, which has no metadata or cancel frames")

// WriteRequestHeader buffers an encoded request header. In version 2 it
// gives the request the connection's next call ID (h.ID is ignored) and
// encodes h.Metadata; in version 1 a header with metadata gives
// ErrVersion1.
func (c *Conn) WriteRequestHeader(h frame.RequestHeader) error {
	if c.version < frame.Version2 {
		if h.Metadata != 0 || h.Kind != frame.KindRequest {
			return ErrVersion1
		}
		frame.PutRequestHeader(c.scratch[:], h)
		_, err := c.bw.Write(c.scratch[:frame.RequestHeaderSize])
		return err
	}
	c.lastID++
	h.ID, h.Kind = c.lastID, frame.KindRequest
	frame.PutRequestHeaderV2(c.scratch[:], h)
	_, err := c.bw.Write(c.scratch[:frame.RequestHeaderSizeV2])
	return err
}

// WriteCancel writes and flushes a cancel frame for the last request
// written; ErrVersion1 in version 1.
func (c *Conn) WriteCancel() error {
	if c.version < frame.Version2 {
		return ErrVersion1
	}
	frame.PutRequestHeaderV2(c.scratch[:], frame.RequestHeader{Kind: frame.KindCancel, ID: c.lastID})
	if _, err := c.bw.Write(c.scratch[:frame.RequestHeaderSizeV2]); err != nil {
		return err
	}
	return c.bw.Flush()
}

// WriteResponseHeader buffers an encoded response header. In version 1
// h.ID and h.Metadata are not sent: the caller sends no metadata block.
func (c *Conn) WriteResponseHeader(h frame.ResponseHeader) error {
	if c.version >= frame.Version2 {
		frame.PutResponseHeaderV2(c.scratch[:], h)
		_, err := c.bw.Write(c.scratch[:frame.ResponseHeaderSizeV2])
		return err
	}
	frame.PutResponseHeader(c.scratch[:], h)
	_, err := c.bw.Write(c.scratch[:frame.ResponseHeaderSize])
	return err
}

// Write buffers payload bytes. Large writes go straight to the connection.
func (c *Conn) Write(p []byte) (int, error) { return c.bw.Write(p) }

// WriteString buffers payload bytes from a string.
func (c *Conn) WriteString(s string) (int, error) { return c.bw.WriteString(s) }

// Flush writes out whatever is buffered.
func (c *Conn) Flush() error { return c.bw.Flush() }

// Read reads payload bytes; the caller keeps count of the frame's length.
func (c *Conn) Read(p []byte) (int, error) { return c.br.Read(p) }

// ReadFull reads exactly len(p) payload bytes. An EOF before that is
// io.ErrUnexpectedEOF.
func (c *Conn) ReadFull(p []byte) error {
	_, err := io.ReadFull(c.br, p)
	if err == io.EOF && len(p) > 0 {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// discard reads and drops n payload bytes without allocating.
func (c *Conn) discard(n uint64) error {
	for n > 0 {
		k := int(min(n, 1<<30))
		d, err := c.br.Discard(k)
		n -= uint64(d)
		if err != nil {
			return eofIsUnexpected(err, 1)
		}
	}
	return nil
}

// CopyTo copies exactly n payload bytes to w through the read buffer, so
// memory stays bounded whatever n is. It returns how many bytes w accepted.
// Every slice handed to w has already been consumed from the connection,
// whatever w then does with it (fails, accepts part, or panics).
//
// Once the read buffer is empty, a payload larger than it is read straight
// from the connection into a pooled chunk of streamChunk bytes, so each
// read system call moves up to a chunk instead of one buffer's worth.
func (c *Conn) CopyTo(w io.Writer, n uint64) (int64, error) {
	var done int64
	var chunk *[streamChunk]byte
	defer func() {
		if chunk != nil {
			streamChunks.Put(chunk)
		}
	}()
	for n > 0 {
		var b []byte
		if c.br.Buffered() == 0 && n >= uint64(c.br.Size()) && c.br.Size() < streamChunk {
			if chunk == nil {
				chunk = streamChunks.Get().(*[streamChunk]byte)
			}
			// An empty bufio.Reader reads a large p straight from the conn.
			k, err := c.br.Read(chunk[:min(n, streamChunk)])
			if k == 0 {
				if err == nil {
					err = io.ErrNoProgress
				}
				return done, eofIsUnexpected(err, 1)
			}
			b = chunk[:k]
		} else {
			if c.br.Buffered() == 0 {
				if _, err := c.br.Peek(1); err != nil {
					return done, eofIsUnexpected(err, 1)
				}
			}
			b, _ = c.br.Peek(int(min(uint64(c.br.Buffered()), n)))
			// b stays valid until the next read from br.
			_, _ = c.br.Discard(len(b))
		}
		n -= uint64(len(b))
		k, err := w.Write(b)
		done += int64(k)
		if err != nil {
			return done, err
		}
		if k < len(b) {
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}

// CopyFrom copies exactly n bytes from r into the connection through the
// write buffer, reading at most chunk bytes at a time (chunk <= 0 means the
// buffer's size, or streamChunk for payloads larger than the buffer).
// Memory stays bounded whatever n is. When r ends before n bytes it returns
// io.ErrUnexpectedEOF: the frame being written is then incomplete and the
// connection must be closed.
//
// A payload larger than the write buffer is read into a pooled chunk of
// streamChunk bytes and written from there: the buffered writer sends a
// write that large straight to the connection, so each write system call
// moves a chunk instead of one buffer's worth.
func (c *Conn) CopyFrom(r io.Reader, n uint64, chunk int) (int64, error) {
	// Large payloads go through a pooled chunk; the rest through the write
	// buffer's own free space.
	var big *[streamChunk]byte
	if n > uint64(c.bw.Size()) && c.bw.Size() < streamChunk && (chunk <= 0 || chunk > c.bw.Size()) {
		big = streamChunks.Get().(*[streamChunk]byte)
		defer streamChunks.Put(big)
	}
	var done int64
	for n > 0 {
		var buf []byte
		if big != nil {
			buf = big[:]
		} else {
			if c.bw.Available() == 0 {
				if err := c.bw.Flush(); err != nil {
					return done, err
				}
			}
			buf = c.bw.AvailableBuffer()
			buf = buf[:cap(buf)]
		}
		want := min(uint64(len(buf)), n)
		if chunk > 0 {
			want = min(want, uint64(chunk))
		}
		k, rerr := r.Read(buf[:want])
		if k > 0 {
			// From the write buffer's free space this Write only advances it;
			// a chunk this large goes straight to the connection.
			if _, err := c.bw.Write(buf[:k]); err != nil {
				return done, err
			}
			done += int64(k)
			n -= uint64(k)
		}
		if rerr != nil {
			if rerr == io.EOF {
				if n == 0 {
					break
				}
				return done, io.ErrUnexpectedEOF
			}
			return done, rerr
		}
	}
	return done, nil
}

// streamChunk is the size of the pooled chunks that CopyFrom and CopyTo
// move payloads larger than a connection's buffers through.
const streamChunk = 64 << 10

var streamChunks = sync.Pool{New: func() any { return new([streamChunk]byte) }}

// Stale reports whether an idle connection should not be used: the peer
// closed it or reset it, or sent bytes nobody asked for (a FastRpc peer
// never does; the notice a master sends before closing a connection, when
// it stops or the connection was idle too long, is such bytes). It does not block
// and sends nothing. A TLS connection, or any wrapper with a NetConn
// method, is probed on the socket beneath it; where no socket can be
// reached it reports only what is already buffered.
//
// With Config.ProbeAfter set, a connection that read a response less than
// that long ago is not probed: the peek is a system call, and masters close
// connections that have been idle (idle timeout, shutdown, restart), not
// ones that answered a moment ago.
func (c *Conn) Stale() bool {
	if c.br.Buffered() > 0 {
		return true
	}
	if c.probeAfter > 0 && c.lastResponse != 0 && monoNow()-c.lastResponse < c.probeAfter {
		return false
	}
	return c.probe.stale()
}

var epoch = time.Now()

// monoNow reads the monotonic clock only: cheaper than time.Now.
func monoNow() time.Duration { return time.Since(epoch) + 1 }
