package master_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

var (
	fuzzOnce  sync.Once
	fuzzAddr  string
	fuzzSlave *slave.Slave
)

// fuzzTarget is one master shared by every input, with handlers that read
// all, part or none of the request, fail, panic and stream; it returns
// the master's address.
func fuzzTarget() string {
	fuzzOnce.Do(func() {
		m := master.New(master.Config{HeaderTimeout: 200 * time.Millisecond, MaxRequestSize: 1 << 20})
		for name, h := range map[string]master.Handler{
			"echo": echo,
			"part": func(op *master.IOOperator) error {
				_, err := op.ReadIOStream(int(min(op.ReadDataLeft(), 3)))
				return err
			},
			"none":  func(*master.IOOperator) error { return nil },
			"fail":  func(*master.IOOperator) error { return errors.New("failed") },
			"panic": func(*master.IOOperator) error { panic("fuzz") },
			"stream": func(op *master.IOOperator) error {
				return op.WriteIOFromReader(op, int(op.ReadDataLeft()), 7)
			},
		} {
			if err := m.Register(name, master.MethodInfo{}, h); err != nil {
				panic(err)
			}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		go func() { _ = m.Serve(context.Background(), ln) }()
		s, err := slave.Dial(context.Background(), slave.Config{Address: ln.Addr().String(), PoolSize: 1})
		if err != nil {
			panic(err)
		}
		fuzzAddr, fuzzSlave = ln.Addr().String(), s
	})
	return fuzzAddr
}

func request(method string, body []byte) []byte {
	b := make([]byte, frame.RequestHeaderSize, frame.RequestHeaderSize+len(body))
	frame.PutRequestHeader(b, frame.RequestHeader{Method: frame.MethodID(method), Length: uint64(len(body))})
	return append(b, body...)
}

// FuzzMasterConn feeds arbitrary bytes to the master's connection loop,
// after a valid preface or instead of it. The master must answer or close,
// never hang or crash, and keep serving honest slaves.
func FuzzMasterConn(f *testing.F) {
	var preface [frame.PrefaceSize]byte
	frame.PutPreface(preface[:], frame.Preface{Version: frame.Version1})
	f.Add(true, request("echo", []byte("hello")))
	f.Add(true, append(request("part", []byte("0123456789")), request("echo", []byte("next"))...))
	f.Add(true, append(request("none", []byte("abc")), request("fail", nil)...))
	f.Add(true, append(request("panic", []byte("x")), request("stream", []byte("streamed back"))...))
	f.Add(true, request("capabilities", nil))
	f.Add(true, request("nope", []byte("unknown")))
	f.Add(false, preface[:])
	f.Add(false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, withPreface bool, data []byte) {
		if withPreface {
			data = append(preface[:], data...)
		}
		fuzzConn(t, data)
	})
}

// fuzzConn sends data on a new connection to the fuzz target and
// half-closes it. Whatever the input, the master must end the connection
// (at our EOF, at a protocol violation, or at its header timeout) and
// still serve an honest slave.
func fuzzConn(t *testing.T, data []byte) {
	nc, err := net.Dial("tcp", fuzzTarget())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		_, _ = nc.Write(data)
		_ = nc.(*net.TCPConn).CloseWrite()
	}()
	_, err = io.Copy(io.Discard, nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the master kept the connection open for input %x", data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got, err := fuzzSlave.Call(ctx, "echo", []byte("still serving")); err != nil || string(got) != "still serving" {
		t.Fatalf("after input %x: %q, %v", data, got, err)
	}
}

func requestV2(method string, id uint64, block, body []byte) []byte {
	b := make([]byte, frame.RequestHeaderSizeV2, frame.RequestHeaderSizeV2+len(block)+len(body))
	frame.PutRequestHeaderV2(b, frame.RequestHeader{Method: frame.MethodID(method), ID: id, Metadata: uint32(len(block)), Length: uint64(len(body))})
	return append(append(b, block...), body...)
}

func cancelV2(id uint64) []byte {
	b := make([]byte, frame.RequestHeaderSizeV2)
	frame.PutRequestHeaderV2(b, frame.RequestHeader{Kind: frame.KindCancel, ID: id})
	return b
}

// FuzzMasterConnV2 is FuzzMasterConn on a connection that negotiated
// protocol version 2: call IDs, metadata blocks and cancel frames.
func FuzzMasterConnV2(f *testing.F) {
	var preface [frame.PrefaceSize]byte
	frame.PutPreface(preface[:], frame.SlavePreface(2))
	md := frame.AppendMetadataPair(frame.AppendMetadataPair(nil, "authorization", "Bearer x"), "x-id", "7")
	f.Add(requestV2("echo", 1, nil, []byte("hello")))
	f.Add(append(requestV2("echo", 1, md, []byte("hello")), requestV2("part", 2, md, []byte("0123456789"))...))
	f.Add(append(requestV2("none", 1, nil, nil), cancelV2(1)...))
	f.Add(append(append(requestV2("stream", 4, md, []byte("streamed")), cancelV2(4)...), requestV2("fail", 5, nil, nil)...))
	f.Add(append(requestV2("echo", 3, nil, nil), requestV2("echo", 3, nil, nil)...))
	f.Add(requestV2("capabilities", 1, nil, nil))
	f.Add(cancelV2(9))
	f.Add(requestV2("echo", 1, []byte("\xff"), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, append(preface[:], data...))
	})
}
