package conn_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
)

// transports gives both ends of a connection: a synchronous net.Pipe and
// a loopback TCP connection.
var transports = []struct {
	name string
	pair func(testing.TB) (net.Conn, net.Conn)
}{
	{"pipe", func(tb testing.TB) (net.Conn, net.Conn) { return pipePair(tb) }},
	{"tcp", func(tb testing.TB) (net.Conn, net.Conn) { a, b := tcpPair(tb); return a, b }},
}

// async runs f in a goroutine and returns a channel that yields its error.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func wait(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("peer goroutine hung")
		return nil
	}
}

func TestPrefaceRoundTrip(t *testing.T) {
	a, b := pipePair(t)
	ca, cb := conn.New(a, conn.Config{}), conn.New(b, conn.Config{})
	done := async(func() error { return ca.WritePreface(frame.HandshakeShuttingDown) })
	p, err := cb.ReadPreface()
	require.NoError(t, err)
	require.NoError(t, wait(t, done))
	assert.Equal(t, frame.Preface{Version: frame.Version1, Status: frame.HandshakeShuttingDown}, p)
}

func TestHeaderRoundTrip(t *testing.T) {
	reqs := []frame.RequestHeader{
		{Method: frame.MethodID("echo"), Length: 5, Timeout: 1500 * time.Millisecond},
		{Method: 0, Length: 0},
		{Method: ^uint64(0), Length: 1 << 62, Timeout: time.Duration(1<<63 - 1)},
	}
	resps := []frame.ResponseHeader{
		{Status: frame.StatusOK, Length: 5},
		{Status: frame.StatusApplicationError, Code: 42, Length: 7},
		{Status: frame.Status(200), Code: ^uint32(0), Length: ^uint64(0)},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			a, b := tr.pair(t)
			slave := conn.New(a, conn.Config{ReadBufferSize: 64, WriteBufferSize: 64})
			master := conn.New(b, conn.Config{})

			// slave -> master: requests, each followed by a payload.
			sent := async(func() error {
				for _, h := range reqs {
					if err := slave.WriteRequestHeader(h); err != nil {
						return err
					}
					if _, err := slave.WriteString("hello"[:min(5, h.Length)]); err != nil {
						return err
					}
				}
				return slave.Flush()
			})
			for _, want := range reqs {
				got, err := master.ReadRequestHeader()
				require.NoError(t, err)
				assert.Equal(t, want, got)
				body := make([]byte, min(5, want.Length))
				require.NoError(t, master.ReadFull(body))
				assert.Equal(t, "hello"[:len(body)], string(body))
			}
			require.NoError(t, wait(t, sent))

			// master -> slave: responses.
			sent = async(func() error {
				for _, h := range resps {
					if err := master.WriteResponseHeader(h); err != nil {
						return err
					}
				}
				return master.Flush()
			})
			for _, want := range resps {
				got, err := slave.ReadResponseHeader()
				require.NoError(t, err)
				assert.Equal(t, want, got)
			}
			require.NoError(t, wait(t, sent))
			assert.Zero(t, hooks.Buffered(slave))
			assert.Zero(t, hooks.Buffered(master))
		})
	}
}

// A header with reserved bits set is an error, but it is consumed: the
// stream stays aligned on frames.
func TestReadHeaderReservedConsumed(t *testing.T) {
	var buf bytes.Buffer
	req := make([]byte, frame.RequestHeaderSize)
	frame.PutRequestHeader(req, frame.RequestHeader{Method: 9, Length: 1})
	req[27] = 1 // a flag
	buf.Write(req)
	frame.PutRequestHeader(req, frame.RequestHeader{Method: 10})
	buf.Write(req)
	c := conn.New(&fakeConn{r: &buf}, conn.Config{})
	h, err := c.ReadRequestHeader()
	assert.ErrorIs(t, err, frame.ErrReserved)
	assert.Equal(t, uint64(9), h.Method)
	h, err = c.ReadRequestHeader()
	require.NoError(t, err)
	assert.Equal(t, uint64(10), h.Method)

	resp := make([]byte, frame.ResponseHeaderSize)
	frame.PutResponseHeader(resp, frame.ResponseHeader{Length: 1})
	resp[2] = 1
	buf.Write(resp)
	frame.PutResponseHeader(resp, frame.ResponseHeader{Code: 3})
	buf.Write(resp)
	c = conn.New(&fakeConn{r: &buf}, conn.Config{})
	_, err = c.ReadResponseHeader()
	assert.ErrorIs(t, err, frame.ErrReserved)
	rh, err := c.ReadResponseHeader()
	require.NoError(t, err)
	assert.Equal(t, uint32(3), rh.Code)
}

// An EOF inside a frame is io.ErrUnexpectedEOF; an EOF before its first
// byte is io.EOF.
func TestReadHeaderEOF(t *testing.T) {
	type reader func(c *conn.Conn) error
	readers := map[string]reader{
		"request":  func(c *conn.Conn) error { _, err := c.ReadRequestHeader(); return err },
		"response": func(c *conn.Conn) error { _, err := c.ReadResponseHeader(); return err },
		"preface":  func(c *conn.Conn) error { _, err := c.ReadPreface(); return err },
		"readfull": func(c *conn.Conn) error { return c.ReadFull(make([]byte, 10)) },
	}
	for _, tr := range transports {
		for name, read := range readers {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				// Truncated: a few bytes, then the peer closes.
				a, b := tr.pair(t)
				c := conn.New(a, conn.Config{})
				sent := async(func() error {
					_, err := b.Write([]byte{0, 0, 0, 0, 0})
					if err != nil {
						return err
					}
					return b.Close()
				})
				err := read(c)
				require.NoError(t, wait(t, sent))
				if name == "preface" {
					// A partial preface means the peer is not FastRpc.
					assert.ErrorIs(t, err, frame.ErrBadMagic)
				} else {
					assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
				}

				// Clean: the peer closes before sending anything.
				a, b = tr.pair(t)
				c = conn.New(a, conn.Config{})
				require.NoError(t, b.Close())
				err = read(c)
				if name == "readfull" {
					assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "ReadFull wanted bytes")
				} else {
					assert.Equal(t, io.EOF, err, "a clean EOF is io.EOF itself")
				}
			})
		}
	}
}

func TestWaitForData(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	_, err := b.Write([]byte{7})
	require.NoError(t, err)
	require.NoError(t, hooks.WaitForData(c))
	assert.Equal(t, 1, hooks.Buffered(c), "WaitForData consumes nothing")
	require.NoError(t, b.Close())
	one := make([]byte, 1)
	require.NoError(t, c.ReadFull(one))
	assert.Equal(t, byte(7), one[0])
	assert.Equal(t, io.EOF, hooks.WaitForData(c))
}

func TestCopyFromExact(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10_000) // 100 kB
	for _, n := range []uint64{0, 1, 63, 64, 65, 4095, 4096, 4097, 50_000, uint64(len(data))} {
		var sink bytes.Buffer
		c := conn.New(&fakeConn{w: &sink}, conn.Config{WriteBufferSize: 4096})
		r := bytes.NewReader(data)
		done, err := c.CopyFrom(r, n, 0)
		require.NoError(t, err, "n=%d", n)
		require.NoError(t, c.Flush())
		assert.Equal(t, int64(n), done, "n=%d", n)
		assert.Equal(t, string(data[:n]), sink.String(), "n=%d", n)
		assert.Equal(t, len(data)-int(n), r.Len(), "n=%d: CopyFrom must not read past n", n)
	}
}

// A reader may return its last bytes together with io.EOF.
func TestCopyFromDataWithEOF(t *testing.T) {
	var sink bytes.Buffer
	c := conn.New(&fakeConn{w: &sink}, conn.Config{WriteBufferSize: 64})
	r := iotest.DataErrReader(iotest.OneByteReader(bytes.NewReader([]byte("abcdefgh"))))
	done, err := c.CopyFrom(r, 8, 0)
	require.NoError(t, err)
	require.NoError(t, c.Flush())
	assert.Equal(t, int64(8), done)
	assert.Equal(t, "abcdefgh", sink.String())
}

func TestCopyFromShortReader(t *testing.T) {
	var sink bytes.Buffer
	c := conn.New(&fakeConn{w: &sink}, conn.Config{WriteBufferSize: 64})
	done, err := c.CopyFrom(bytes.NewReader(make([]byte, 1000)), 1001, 0)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, int64(1000), done)

	c = conn.New(&fakeConn{w: &sink}, conn.Config{})
	done, err = c.CopyFrom(iotest.DataErrReader(bytes.NewReader([]byte("abc"))), 5, 0)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, int64(3), done)
}

func TestCopyFromReaderError(t *testing.T) {
	c := conn.New(&fakeConn{}, conn.Config{})
	r := io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(errBoom))
	done, err := c.CopyFrom(r, 10, 0)
	assert.ErrorIs(t, err, errBoom)
	assert.Equal(t, int64(3), done)
}

func TestCopyFromWriteError(t *testing.T) {
	c := conn.New(&fakeConn{w: &failingWriter{limit: 100, err: errBoom}}, conn.Config{WriteBufferSize: 64})
	_, err := c.CopyFrom(&genReader{left: 1 << 20}, 1<<20, 0)
	assert.ErrorIs(t, err, errBoom)
}

func TestCopyFromChunk(t *testing.T) {
	for _, tc := range []struct {
		bufSize, chunk, wantMax int
	}{
		{4096, 100, 100},
		{4096, 1, 1},
		{4096, 0, 64 << 10},       // larger than the buffer: pooled 64 KiB chunks
		{4096, -1, 64 << 10},      //
		{4096, 1 << 20, 64 << 10}, // a chunk larger than the pooled one is capped by it
		{64, 1000, 1000},
	} {
		var sink bytes.Buffer
		c := conn.New(&fakeConn{w: &sink}, conn.Config{WriteBufferSize: tc.bufSize})
		r := &maxLenReader{r: &genReader{left: 100_000}}
		done, err := c.CopyFrom(r, 100_000, tc.chunk)
		require.NoError(t, err)
		require.NoError(t, c.Flush())
		assert.Equal(t, int64(100_000), done)
		assert.Equal(t, 100_000, sink.Len())
		assert.LessOrEqual(t, r.max, tc.wantMax, "buf %d chunk %d", tc.bufSize, tc.chunk)
		assert.Positive(t, r.max)
		pc := newPatternChecker()
		_, _ = pc.Write(sink.Bytes())
		assert.Equal(t, int64(-1), pc.bad, "payload corrupted at offset %d", pc.bad)
	}
}

func TestCopyFromAllocs(t *testing.T) {
	c := conn.New(&fakeConn{}, conn.Config{WriteBufferSize: 4096})
	data := make([]byte, 100_000)
	r := bytes.NewReader(data)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(data)
		if _, err := c.CopyFrom(r, uint64(len(data)), 1000); err != nil {
			panic(err)
		}
		if err := c.Flush(); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestCopyToExact(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			a, b := tr.pair(t)
			c := conn.New(a, conn.Config{ReadBufferSize: 1024})
			const n = 100_000
			sent := async(func() error {
				if _, err := io.Copy(b, &genReader{left: n}); err != nil {
					return err
				}
				_, err := b.Write([]byte("NEXT"))
				return err
			})
			pc := newPatternChecker()
			done, err := c.CopyTo(pc, n)
			require.NoError(t, err)
			assert.Equal(t, int64(n), done)
			assert.Equal(t, int64(n), pc.n)
			assert.Equal(t, int64(-1), pc.bad)
			next := make([]byte, 4)
			require.NoError(t, c.ReadFull(next))
			assert.Equal(t, "NEXT", string(next), "CopyTo must stop at exactly n bytes")
			require.NoError(t, wait(t, sent))

			var sink bytes.Buffer
			done, err = c.CopyTo(&sink, 0)
			assert.NoError(t, err)
			assert.Zero(t, done)
		})
	}
}

// CopyTo of 64 MiB through a loopback connection allocates next to nothing:
// the payload only ever lives in the read buffer.
func TestCopyToBoundedMemory(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	const n = 64 << 20
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc

	sent := async(func() error {
		buf := make([]byte, 32<<10)
		g := &genReader{left: n}
		for {
			k, err := g.Read(buf)
			if err == io.EOF {
				return nil
			}
			if _, err := b.Write(buf[:k]); err != nil {
				return err
			}
		}
	})
	pc := newPatternChecker()
	done, err := c.CopyTo(pc, n)
	require.NoError(t, err)
	require.NoError(t, wait(t, sent))

	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc - before
	assert.Equal(t, int64(n), done)
	assert.Equal(t, int64(-1), pc.bad)
	assert.Less(t, allocated, uint64(4<<20), "CopyTo of %d bytes allocated %d bytes", n, allocated)
}

func TestCopyToWriterError(t *testing.T) {
	c := conn.New(&fakeConn{r: &genReader{left: 1 << 20}}, conn.Config{})
	w := &failingWriter{limit: 20_000, err: errBoom}
	done, err := c.CopyTo(w, 1<<20)
	assert.ErrorIs(t, err, errBoom)
	assert.Equal(t, int64(20_000), done, "CopyTo reports what the writer accepted")
}

func TestCopyToShortWrite(t *testing.T) {
	c := conn.New(&fakeConn{r: &genReader{left: 100}}, conn.Config{})
	done, err := c.CopyTo(&shortWriter{}, 100)
	assert.ErrorIs(t, err, io.ErrShortWrite)
	assert.Equal(t, int64(1), done)
}

func TestCopyToEarlyEOF(t *testing.T) {
	c := conn.New(&fakeConn{r: &genReader{left: 1000}}, conn.Config{ReadBufferSize: 64})
	pc := newPatternChecker()
	done, err := c.CopyTo(pc, 1001)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, int64(1000), done)
}

// zeroReader delivers zeros forever (without writing them) and counts them.
type zeroReader struct{ n uint64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	z.n += uint64(len(p))
	return len(p), nil
}

func TestDiscard(t *testing.T) {
	t.Run("over 1GiB", func(t *testing.T) {
		// More than one internal step of 1 GiB.
		z := &zeroReader{}
		c := conn.New(&fakeConn{r: z}, conn.Config{ReadBufferSize: 1 << 20})
		const n = 3<<30 + 12345
		require.NoError(t, hooks.Discard(c, n))
		assert.Equal(t, uint64(n), z.n-uint64(hooks.Buffered(c)), "exactly n bytes consumed")
	})
	t.Run("tcp then next frame", func(t *testing.T) {
		a, b := tcpPair(t)
		c := conn.New(a, conn.Config{})
		const n = 10 << 20
		sent := async(func() error {
			if _, err := io.Copy(b, &genReader{left: n}); err != nil {
				return err
			}
			_, err := b.Write([]byte("NEXT"))
			return err
		})
		require.NoError(t, hooks.Discard(c, n))
		next := make([]byte, 4)
		require.NoError(t, c.ReadFull(next))
		assert.Equal(t, "NEXT", string(next))
		require.NoError(t, wait(t, sent))
		require.NoError(t, hooks.Discard(c, 0))
	})
	t.Run("early EOF", func(t *testing.T) {
		c := conn.New(&fakeConn{r: &genReader{left: 1 << 20}}, conn.Config{})
		assert.ErrorIs(t, hooks.Discard(c, 1<<40), io.ErrUnexpectedEOF)
	})
	t.Run("read error", func(t *testing.T) {
		c := conn.New(&fakeConn{r: io.MultiReader(&genReader{left: 100}, iotest.ErrReader(errBoom))}, conn.Config{})
		err := hooks.Discard(c, 1000)
		assert.ErrorIs(t, err, errBoom)
	})
}

func TestCloseWrite(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	_, err := c.WriteString("bye")
	require.NoError(t, err)
	require.NoError(t, c.Flush())
	require.NoError(t, c.CloseWrite())
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, "bye", string(got))

	// Without a CloseWrite method, it does nothing.
	p, _ := pipePair(t)
	assert.NoError(t, conn.New(p, conn.Config{}).CloseWrite())
}

// Closing the connection from another goroutine interrupts a blocked read.
func TestCloseInterruptsRead(t *testing.T) {
	a, _ := tcpPair(t)
	c := conn.New(a, conn.Config{})
	read := async(func() error { _, err := c.ReadResponseHeader(); return err })
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, c.Close())
	err := wait(t, read)
	assert.True(t, errors.Is(err, net.ErrClosed), "got %v", err)
}

func TestHeaderAllocs(t *testing.T) {
	a, b := tcpPair(t)
	slave, master := conn.New(a, conn.Config{}), conn.New(b, conn.Config{})
	req := frame.RequestHeader{Method: frame.MethodID("echo"), Length: 0, Timeout: time.Second}
	resp := frame.ResponseHeader{Status: frame.StatusOK}
	var fail error
	allocs := testing.AllocsPerRun(200, func() {
		if err := slave.WriteRequestHeader(req); err != nil {
			fail = err
		}
		if err := slave.Flush(); err != nil {
			fail = err
		}
		if _, err := master.ReadRequestHeader(); err != nil {
			fail = err
		}
		if err := master.WriteResponseHeader(resp); err != nil {
			fail = err
		}
		if err := master.Flush(); err != nil {
			fail = err
		}
		if _, err := slave.ReadResponseHeader(); err != nil {
			fail = err
		}
	})
	require.NoError(t, fail)
	assert.Zero(t, allocs)
}

func TestSetCallDeadline(t *testing.T) {
	a, b := tcpPair(t)
	c := conn.New(a, conn.Config{})
	require.NoError(t, hooks.SetCallDeadline(c, time.Now().Add(-time.Second)))
	require.ErrorIs(t, hooks.WaitForData(c), os.ErrDeadlineExceeded)
	require.NoError(t, hooks.SetCallDeadline(c, time.Time{}))
	require.NoError(t, hooks.SetCallDeadline(c, time.Time{}), "the same deadline again is a no-op")
	_, err := b.Write([]byte{1})
	require.NoError(t, err)
	require.NoError(t, hooks.WaitForData(c), "the cleared deadline is really cleared")
}
