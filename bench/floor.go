package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// The floor: a length-prefixed echo over TCP with buffered I/O and no
// framework. A request is a floorHeader-byte header (a big-endian 64-bit
// length, then zeros) and that many bytes; the response is the same frame.
// A length with sinkBit set asks the server to read and drop that many
// bytes and answer with the 8-byte count.
//
// Both ends use 16 KiB bufio buffers, FastRpc's default, and reuse one
// payload buffer per connection: it allocates nothing per call. (Writing a
// large frame as one writev of header and payload was tried and measured
// slower on this machine than bufio's own way: fill the buffer, flush it,
// write the rest straight from the payload.)

const (
	floorBuffer = 16 << 10
	sinkBit     = 1 << 63
)

// floorHeader is the size of the floor's frame header: the 8-byte length,
// then zeros. Why not 8: the kernel copies a write into socket pages that
// it fills in stream order, so the header's size sets how far the payload
// is from its own page alignment there, and on the AMD EPYC this suite was
// tuned on that copy runs at half speed when the distance is 8 bytes. The
// 4-caller 1 MiB echo measured 1.6-2.4 GB/s with an 8-byte header, 3.3-4.4
// with 16 and 3.3-4.9 with 32 (one caller: 0.9, 1.5 and 2.0-2.3). With 32,
// FastRpc's request header size, the floor measures framing rather than
// that quirk; for 32-byte payloads the extra 24 bytes cost nothing
// measurable.
const floorHeader = 32

func floorSystem(name string) System {
	return System{
		Name:  name,
		Serve: serveFloor,
		Dial: func(addr string, callers int) (Client, error) {
			return dialEach(callers, func() (*floorConn, error) { return dialFloor(addr) })
		},
		Stream:    streamFloor,
		StreamHow: "one frame of the whole size, written in 64 KiB writes, read and dropped by the server",
		Conns:     "one connection per caller",
	}
}

type floorServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func serveFloor() (Server, error) {
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	s := &floorServer{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *floorServer) Addr() string { return s.ln.Addr().String() }

func (s *floorServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *floorServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			serveFloorConn(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
			_ = nc.Close()
		}()
	}
}

func serveFloorConn(nc net.Conn) {
	br := bufio.NewReaderSize(nc, floorBuffer)
	bw := bufio.NewWriterSize(nc, floorBuffer)
	hdr := make([]byte, floorHeader)
	var buf []byte
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			return
		}
		n := binary.BigEndian.Uint64(hdr)
		if n&sinkBit != 0 {
			n &^= sinkBit
			buf = grow(buf, ChunkSize)
			var got uint64
			for got < n {
				k, err := br.Read(buf[:min(uint64(len(buf)), n-got)])
				got += uint64(k)
				if err != nil {
					return
				}
			}
			binary.BigEndian.PutUint64(hdr, 8)
			_, _ = bw.Write(hdr)
			_, _ = bw.Write(binary.BigEndian.AppendUint64(buf[:0], got))
			if bw.Flush() != nil {
				return
			}
			continue
		}
		if n > 1<<30 {
			return
		}
		buf = grow(buf, int(n))
		if _, err := io.ReadFull(br, buf); err != nil {
			return
		}
		_, _ = bw.Write(hdr)
		_, _ = bw.Write(buf)
		if bw.Flush() != nil {
			return
		}
	}
}

type floorConn struct {
	nc  net.Conn
	br  *bufio.Reader
	bw  *bufio.Writer
	hdr []byte
}

func dialFloor(addr string) (*floorConn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &floorConn{nc: nc, br: bufio.NewReaderSize(nc, floorBuffer), bw: bufio.NewWriterSize(nc, floorBuffer), hdr: make([]byte, floorHeader)}
	return c, nil
}

func (c *floorConn) Close() error { return c.nc.Close() }

func (c *floorConn) Echo(req, dst []byte) ([]byte, error) {
	binary.BigEndian.PutUint64(c.hdr, uint64(len(req)))
	_, _ = c.bw.Write(c.hdr)
	_, _ = c.bw.Write(req)
	if err := c.bw.Flush(); err != nil {
		return dst, err
	}
	n, err := c.readLen()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = grow(dst, start+n)
	if _, err := io.ReadFull(c.br, dst[start:]); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func (c *floorConn) readLen() (int, error) {
	if _, err := io.ReadFull(c.br, c.hdr); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint64(c.hdr)
	if n > 1<<30 {
		return 0, fmt.Errorf("floor: response of %d bytes", n)
	}
	return int(n), nil
}

func streamFloor(addr string, size int64) (int64, error) {
	c, err := dialFloor(addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	binary.BigEndian.PutUint64(c.hdr, uint64(size)|sinkBit)
	_, _ = c.bw.Write(c.hdr)
	src := NewSource(size)
	buf := make([]byte, ChunkSize)
	for {
		k, rerr := src.Read(buf)
		if _, err := c.bw.Write(buf[:k]); err != nil {
			return 0, err
		}
		if rerr == io.EOF {
			break
		}
	}
	if err := c.bw.Flush(); err != nil {
		return 0, err
	}
	n, err := c.readLen()
	if err != nil {
		return 0, err
	}
	if n != 8 {
		return 0, errors.New("floor: bad sink answer")
	}
	if _, err := io.ReadFull(c.br, c.hdr[:8]); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(c.hdr)), nil
}
