package slave_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/slave"
)

// fakeMaster answers every request with whatever bytes the test hands it,
// then closes the connection: a master gone wrong, for the slave's response
// reader.
type fakeMaster struct {
	ln      net.Listener
	replies chan []byte
	v2      bool // negotiates protocol version 2
}

var (
	fakeOnce sync.Once
	fake     *fakeMaster
	fakeCli  *slave.Slave
)

func fakeTarget() (*fakeMaster, *slave.Slave) {
	fakeOnce.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		fake = &fakeMaster{ln: ln, replies: make(chan []byte)}
		go fake.serve()
		fakeCli, err = slave.New(slave.Config{Address: ln.Addr().String(), PoolSize: 1, MaxResponseSize: 1 << 20})
		if err != nil {
			panic(err)
		}
	})
	return fake, fakeCli
}

func (f *fakeMaster) serve() {
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			var p [frame.PrefaceSize]byte
			if f.v2 {
				if _, err := io.ReadFull(nc, p[:]); err != nil {
					return
				}
				frame.PutPreface(p[:], frame.Preface{Version: frame.Version2})
				if _, err := nc.Write(p[:]); err != nil {
					return
				}
				var h [frame.RequestHeaderSizeV2]byte
				if _, err := io.ReadFull(nc, h[:]); err != nil {
					return
				}
				req, _ := frame.ParseRequestHeaderV2(h[:])
				if _, err := io.CopyN(io.Discard, nc, int64(req.Length)+int64(req.Metadata)); err != nil {
					return
				}
				_, _ = nc.Write(<-f.replies)
				return
			}
			frame.PutPreface(p[:], frame.Preface{Version: frame.Version1})
			if _, err := nc.Write(p[:]); err != nil {
				return
			}
			if _, err := io.ReadFull(nc, p[:]); err != nil {
				return
			}
			var h [frame.RequestHeaderSize]byte
			if _, err := io.ReadFull(nc, h[:]); err != nil {
				return
			}
			req, _ := frame.ParseRequestHeader(h[:])
			if _, err := io.CopyN(io.Discard, nc, int64(req.Length)); err != nil {
				return
			}
			_, _ = nc.Write(<-f.replies)
		}()
	}
}

func response(s frame.Status, code uint32, body []byte) []byte {
	b := make([]byte, frame.ResponseHeaderSize, frame.ResponseHeaderSize+len(body))
	frame.PutResponseHeader(b, frame.ResponseHeader{Status: s, Code: code, Length: uint64(len(body))})
	return append(b, body...)
}

// callResult is what a fuzzed call returned.
type callResult struct {
	b   []byte
	err error
}

// feedCall makes one call through s and answers it with reply from fm. A
// reply saying the request was not processed makes the slave send it
// again on a new connection; that one is answered with retried. It
// returns the call's result and how many replies were sent.
func feedCall(t *testing.T, fm *fakeMaster, s *slave.Slave, reply, retried []byte) (callResult, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan callResult, 1)
	go func() {
		b, err := s.Call(ctx, "anything", []byte("request"))
		got <- callResult{b, err}
	}()
	var r callResult
	sent := 0
	for {
		next := reply
		if sent > 0 {
			next = retried
		}
		select {
		case fm.replies <- next:
			sent++
			continue
		case r = <-got:
		}
		break
	}
	if ctx.Err() != nil {
		t.Fatalf("the call hung on reply %x: %v", reply, r.err)
	}
	return r, sent
}

// FuzzSlaveResponse feeds arbitrary bytes to the slave as a master's
// answer. The call must end (never hang), never panic, and succeed only
// with exactly the payload a well-formed ok response carries, or, after a
// well-formed "not processed" answer, with what the retry got.
func FuzzSlaveResponse(f *testing.F) {
	f.Add(response(frame.StatusOK, 0, []byte("pong")))
	f.Add(response(frame.StatusOK, 0, nil))
	f.Add(response(frame.StatusApplicationError, 42, []byte("boom")))
	f.Add(response(frame.StatusUnknownMethod, 0, []byte("no such method")))
	f.Add(response(frame.StatusShuttingDown, 0, nil))
	f.Add(response(200, 0, []byte("status from the future")))
	f.Add(response(frame.StatusOK, 0, []byte("pong"))[:10])
	f.Add(append(response(frame.StatusOK, 0, []byte("pong")), "trailing"...))
	huge := response(frame.StatusOK, 0, nil)
	binary.BigEndian.PutUint64(huge[8:], 1<<62)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, reply []byte) {
		fm, s := fakeTarget()
		r, sent := feedCall(t, fm, s, reply, response(frame.StatusOK, 0, []byte("retried")))
		if sent == 0 && r.err == nil {
			t.Fatal("a call succeeded without a reply")
		}
		if r.err != nil {
			return // failed before asking (e.g. dial trouble) or on the reply
		}
		if sent > 1 {
			h, err := frame.ParseResponseHeader(reply)
			if err != nil || h.Status != frame.StatusShuttingDown || !bytes.Equal(r.b, []byte("retried")) {
				t.Fatalf("call sent %d times, returning %q, after reply %x", sent, r.b, reply)
			}
			return
		}
		h, err := frame.ParseResponseHeader(reply)
		if err != nil || h.Status != frame.StatusOK || h.Length > uint64(len(reply)-frame.ResponseHeaderSize) {
			t.Fatalf("call succeeded with %q on a malformed reply %x", r.b, reply)
		}
		want := reply[frame.ResponseHeaderSize : frame.ResponseHeaderSize+int(h.Length)]
		if !bytes.Equal(r.b, want) {
			t.Fatalf("call returned %q, the reply carried %q", r.b, want)
		}
	})
}

var (
	fakeOnceV2 sync.Once
	fakeV2     *fakeMaster
	fakeCliV2  *slave.Slave
)

func fakeTargetV2() (*fakeMaster, *slave.Slave) {
	fakeOnceV2.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		fakeV2 = &fakeMaster{ln: ln, replies: make(chan []byte), v2: true}
		go fakeV2.serve()
		fakeCliV2, err = slave.New(slave.Config{Address: ln.Addr().String(), PoolSize: 1, MaxResponseSize: 1 << 20})
		if err != nil {
			panic(err)
		}
	})
	return fakeV2, fakeCliV2
}

func responseV2Fuzz(s frame.Status, id uint64, block, body []byte) []byte {
	b := make([]byte, frame.ResponseHeaderSizeV2)
	frame.PutResponseHeaderV2(b, frame.ResponseHeader{Status: s, ID: id, Metadata: uint32(len(block)), Length: uint64(len(body))})
	return append(append(b, block...), body...)
}

// FuzzSlaveResponseV2 is FuzzSlaveResponse on version 2 connections, each
// carrying one call (ID 1): the call succeeds only on a well-formed ok
// response for call 1 whose metadata block is valid, with exactly its
// payload.
func FuzzSlaveResponseV2(f *testing.F) {
	md := frame.AppendMetadataPair(nil, "x-request-id", "42")
	f.Add(responseV2Fuzz(frame.StatusOK, 1, nil, []byte("pong")))
	f.Add(responseV2Fuzz(frame.StatusOK, 1, md, []byte("pong")))
	f.Add(responseV2Fuzz(frame.StatusOK, 2, nil, []byte("other call")))
	f.Add(responseV2Fuzz(frame.StatusOK, 1, []byte("\x05"), nil))
	f.Add(responseV2Fuzz(frame.StatusShuttingDown, 0, nil, nil))
	f.Add(responseV2Fuzz(frame.StatusCancelled, 1, md, []byte("cancelled")))
	f.Fuzz(func(t *testing.T, reply []byte) {
		fm, s := fakeTargetV2()
		r, sent := feedCall(t, fm, s, reply, responseV2Fuzz(frame.StatusOK, 1, nil, []byte("retried")))
		if r.err != nil {
			return
		}
		h, err := frame.ParseResponseHeaderV2(reply)
		if sent > 1 {
			if err != nil || h.Status != frame.StatusShuttingDown || !bytes.Equal(r.b, []byte("retried")) {
				t.Fatalf("call sent %d times, returning %q, after reply %x", sent, r.b, reply)
			}
			return
		}
		rest := reply[min(len(reply), frame.ResponseHeaderSizeV2):]
		if err != nil || h.Status != frame.StatusOK || h.ID != 1 || uint64(h.Metadata)+h.Length > uint64(len(rest)) {
			t.Fatalf("call succeeded with %q on a malformed reply %x", r.b, reply)
		}
		if _, err := frame.ParseMetadata(rest[:h.Metadata], nil); err != nil {
			t.Fatalf("call succeeded with a malformed metadata block: %x", reply)
		}
		if want := rest[h.Metadata : uint64(h.Metadata)+h.Length]; !bytes.Equal(r.b, want) {
			t.Fatalf("call returned %q, the reply carried %q", r.b, want)
		}
	})
}
