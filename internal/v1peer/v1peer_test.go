package v1peer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The version 1 test vectors, in hex.
const (
	goldenPreface     = "4652504300010000"
	goldenPingRequest = "bf30e00dc53307a900000000000000040000000059682f000000000000000000"
	goldenOKResponse  = "00000000000000000102030405060708"
	goldenAppError    = "01000000deadbeef000000000000000b"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// rawListener accepts connections on a loopback port and runs serve on
// each; the listener and connections close, and serve's goroutines are
// waited for, when the test ends.
func rawListener(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// rawDial connects to addr without any protocol; the connection closes
// when the test ends.
func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// recv receives from ch, failing the test instead of hanging.
func recv(t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the raw peer sent nothing")
		return nil
	}
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	require.NoError(t, err)
	return b
}

// rawHandshake reads the master's preface and sends a slave preface.
func rawHandshake(t *testing.T, c net.Conn, version, status uint16) {
	t.Helper()
	assert.Equal(t, goldenPreface, hex.EncodeToString(readN(t, c, PrefaceSize)))
	_, err := c.Write(appendPreface(nil, version, status))
	require.NoError(t, err)
}

// requireClosed checks the peer closes c without sending anything more.
func requireClosed(t *testing.T, c net.Conn) {
	t.Helper()
	rest, err := io.ReadAll(c)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "connection still open: %v", err)
	assert.Empty(t, rest)
}

func TestMethodID(t *testing.T) {
	assert.Equal(t, uint64(0), MethodID("capabilities"))
	assert.Equal(t, uint64(0xbf30e00dc53307a9), MethodID("ping"))
	assert.Equal(t, uint64(14695981039346656037), MethodID(""))
}

func TestGoldenEncodings(t *testing.T) {
	assert.Equal(t, goldenPreface, hex.EncodeToString(appendPreface(nil, 1, 0)))
	ping := requestHeader{Method: MethodID("ping"), Length: 4, Timeout: uint64(1500 * time.Millisecond)}
	assert.Equal(t, goldenPingRequest, hex.EncodeToString(appendRequestHeader(nil, ping)))
	assert.Equal(t, goldenOKResponse, hex.EncodeToString(appendResponseHeader(nil, 0, 0, 0x0102030405060708)))
	assert.Equal(t, goldenAppError, hex.EncodeToString(appendResponseHeader(nil, 1, 0xdeadbeef, 11)))
}

func TestGoldenDecodings(t *testing.T) {
	v, s, err := parsePreface(unhex(t, goldenPreface))
	require.NoError(t, err)
	assert.Equal(t, [2]uint16{1, 0}, [2]uint16{v, s})
	assert.Equal(t, requestHeader{Method: 0xbf30e00dc53307a9, Length: 4, Timeout: 1_500_000_000},
		parseRequestHeader(unhex(t, goldenPingRequest)))
	assert.Equal(t, responseHeader{Length: 0x0102030405060708}, parseResponseHeader(unhex(t, goldenOKResponse)))
	assert.Equal(t, responseHeader{Status: 1, Code: 0xdeadbeef, Length: 11}, parseResponseHeader(unhex(t, goldenAppError)))
	assert.Equal(t, uint32(0xabcdef), parseResponseHeader(unhex(t, "00abcdef000000000000000000000000")).Reserved)
	_, _, err = parsePreface([]byte("GET / HT"))
	assert.Error(t, err)
}

// TestGoldenSlaveOnWire checks the bytes a SlaveConn writes.
func TestGoldenSlaveOnWire(t *testing.T) {
	got := make(chan []byte, 2)
	addr := rawListener(t, func(c net.Conn) {
		b := make([]byte, PrefaceSize)
		if _, err := io.ReadFull(c, b); err != nil {
			return
		}
		got <- b
		_, _ = c.Write(appendPreface(nil, 1, 0))
		b = make([]byte, RequestHeaderSize+4)
		if _, err := io.ReadFull(c, b); err != nil {
			return
		}
		got <- b
		_, _ = c.Write(append(appendResponseHeader(nil, 1, 0xdeadbeef, 11), "hello world"...))
	})
	s, err := Dial(addr)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, goldenPreface, hex.EncodeToString(recv(t, got)))
	resp, err := s.Call("ping", []byte("abcd"), 1500*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, goldenPingRequest+hex.EncodeToString([]byte("abcd")), hex.EncodeToString(recv(t, got)))
	assert.Equal(t, Response{Status: 1, Code: 0xdeadbeef, Payload: []byte("hello world")}, resp)
}

// TestGoldenMasterOnWire checks the bytes a MasterPeer writes, and that it
// sends its preface before the slave sends one.
func TestGoldenMasterOnWire(t *testing.T) {
	m := Master(t, map[string]Handler{
		"fail":  func([]byte) ([]byte, error) { return nil, &Status{Status: 1, Code: 0xdeadbeef, Message: "hello world"} },
		"empty": func([]byte) ([]byte, error) { return nil, nil },
	})
	c := rawDial(t, m.Addr())
	rawHandshake(t, c, 1, 0)
	_, err := c.Write(appendRequestHeader(nil, requestHeader{Method: MethodID("fail")}))
	require.NoError(t, err)
	assert.Equal(t, goldenAppError, hex.EncodeToString(readN(t, c, ResponseHeaderSize)))
	assert.Equal(t, "hello world", string(readN(t, c, 11)))
	_, err = c.Write(appendRequestHeader(nil, requestHeader{Method: MethodID("empty")}))
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("00", ResponseHeaderSize), hex.EncodeToString(readN(t, c, ResponseHeaderSize)))
	assert.Equal(t, 2, m.Requests())
	assert.Empty(t, m.Errors())
}

func echoMaster(t *testing.T) *MasterPeer {
	return Master(t, map[string]Handler{
		"echo":  func(req []byte) ([]byte, error) { return req, nil },
		"upper": func(req []byte) ([]byte, error) { return bytes.ToUpper(req), nil },
		"plain": func([]byte) ([]byte, error) { return nil, errors.New("it broke") },
		"coded": func([]byte) ([]byte, error) {
			return nil, fmt.Errorf("wrapped: %w", &Status{Status: StatusPermissionDenied, Code: 42, Message: "denied"})
		},
		"panic": func([]byte) ([]byte, error) { panic("boom") },
	})
}

func dial(t *testing.T, addr string) *SlaveConn {
	t.Helper()
	s, err := Dial(addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRoundTrip(t *testing.T) {
	m := echoMaster(t)
	s := dial(t, m.Addr())
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for _, tc := range []struct {
		method   string
		req, out []byte
	}{
		{"echo", []byte("hi"), []byte("hi")},
		{"echo", nil, []byte{}},
		{"upper", []byte("abc"), []byte("ABC")},
		{"echo", big, big},
	} {
		resp, err := s.Call(tc.method, tc.req, 0)
		require.NoError(t, err)
		assert.Equal(t, Response{Payload: tc.out}, resp, tc.method)
	}
	assert.Equal(t, 4, m.Requests())
	assert.Equal(t, []uint16{0}, m.SlavePrefaces())
	assert.Empty(t, m.Errors())
}

func TestUnknownMethod(t *testing.T) {
	s := dial(t, echoMaster(t).Addr())
	resp, err := s.Call("nope", []byte("x"), 0)
	require.NoError(t, err)
	assert.Equal(t, StatusUnknownMethod, resp.Status)
	assert.Equal(t, fmt.Sprintf("no method with ID %#016x is registered", MethodID("nope")), string(resp.Payload))
	resp, err = s.Call("echo", []byte("still usable"), 0)
	require.NoError(t, err)
	assert.Equal(t, "still usable", string(resp.Payload))
}

func TestHandlerErrors(t *testing.T) {
	m := echoMaster(t)
	s := dial(t, m.Addr())
	for method, want := range map[string]Response{
		"plain": {Status: StatusApplicationError, Payload: []byte("it broke")},
		"coded": {Status: StatusPermissionDenied, Code: 42, Payload: []byte("denied")},
		"panic": {Status: StatusPanic, Payload: []byte("handler panicked: boom")},
	} {
		resp, err := s.Call(method, nil, time.Second)
		require.NoError(t, err)
		assert.Equal(t, want, resp, method)
	}
	assert.Empty(t, m.Errors())
}

func TestCapabilities(t *testing.T) {
	s := dial(t, echoMaster(t).Addr())
	resp, err := s.Call("capabilities", []byte("ignored"), 0)
	require.NoError(t, err)
	require.Equal(t, StatusOK, resp.Status)
	caps, err := ParseCapabilities(resp.Payload)
	require.NoError(t, err)
	assert.Equal(t, []Capability{
		{Name: "capabilities", ReturningEncoding: "fastrpc.capabilities.v1"},
		{Name: "coded"}, {Name: "echo"}, {Name: "panic"}, {Name: "plain"}, {Name: "upper"},
	}, caps)
}

func TestParseCapabilities(t *testing.T) {
	caps := []Capability{{Name: "a", Description: "bb", IncomingEncoding: "ccc", ReturningEncoding: ""}}
	body := appendCapabilities(nil, caps)
	assert.Equal(t, "00000001"+"000161"+"00026262"+"0003636363"+"0000", hex.EncodeToString(body))
	got, err := ParseCapabilities(body)
	require.NoError(t, err)
	assert.Equal(t, caps, got)
	empty, err := ParseCapabilities([]byte{0, 0, 0, 0})
	require.NoError(t, err)
	assert.Empty(t, empty)
	for name, bad := range map[string][]byte{
		"empty":           nil,
		"short count":     {0, 0, 1},
		"huge count":      {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0},
		"truncated":       body[:len(body)-1],
		"string too long": {0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0, 0, 0},
		"trailing":        append(bytes.Clone(body), 0),
	} {
		_, err := ParseCapabilities(bad)
		assert.Error(t, err, name)
	}
}

// TestDialRefuses checks Dial rejects a master preface it must not accept,
// and that it sent its own preface first.
func TestDialRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		preface []byte
		want    string
	}{
		"version 2":     {appendPreface(nil, 2, 0), "version 2"},
		"version 0":     {appendPreface(nil, 0, 0), "version 0"},
		"overloaded":    {appendPreface(nil, 1, PrefaceOverloaded), "overloaded"},
		"shutting down": {appendPreface(nil, 1, PrefaceShuttingDown), "shutting down"},
		"bad magic":     {[]byte("HTTP/1.1"), "magic"},
	} {
		t.Run(name, func(t *testing.T) {
			got := make(chan []byte, 1)
			addr := rawListener(t, func(c net.Conn) {
				b := make([]byte, PrefaceSize)
				_, _ = io.ReadFull(c, b)
				got <- b
				_, _ = c.Write(tc.preface)
				_, _ = io.Copy(io.Discard, c)
			})
			s, err := Dial(addr)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, goldenPreface, hex.EncodeToString(recv(t, got)))
		})
	}
}

// TestMasterRejectsHeaders checks the master peer records and closes on a
// request header with a nonzero flags or reserved field.
func TestMasterRejectsHeaders(t *testing.T) {
	for name, tc := range map[string]struct {
		h    requestHeader
		want []string
	}{
		"flags":    {requestHeader{Method: MethodID("echo"), Flags: 1}, []string{"request flags 0x00000001, want 0"}},
		"reserved": {requestHeader{Method: MethodID("echo"), Reserved: 0x80}, []string{"request reserved field 0x00000080, want 0"}},
		"both":     {requestHeader{Flags: 2, Reserved: 3}, []string{"request flags 0x00000002, want 0", "request reserved field 0x00000003, want 0"}},
	} {
		t.Run(name, func(t *testing.T) {
			m := echoMaster(t)
			c := rawDial(t, m.Addr())
			rawHandshake(t, c, 1, 0)
			_, err := c.Write(appendRequestHeader(nil, tc.h))
			require.NoError(t, err)
			requireClosed(t, c)
			assert.Equal(t, tc.want, m.Errors())
			assert.Equal(t, 0, m.Requests())
		})
	}
}

func TestMasterRejectsPrefaces(t *testing.T) {
	for name, tc := range map[string]struct {
		preface  []byte
		want     string
		prefaces []uint16
	}{
		"version 2": {appendPreface(nil, 2, 7), "slave preface version 2, want 1", []uint16{7}},
		"bad magic": {[]byte("GET / HT"), "bad preface magic 47455420", nil},
		"truncated": {[]byte("FRP"), "truncated slave preface: 3 of 8 bytes: unexpected EOF", nil},
	} {
		t.Run(name, func(t *testing.T) {
			m := echoMaster(t)
			c := rawDial(t, m.Addr())
			readN(t, c, PrefaceSize)
			_, err := c.Write(tc.preface)
			require.NoError(t, err)
			if name == "truncated" {
				require.NoError(t, c.(*net.TCPConn).CloseWrite())
			}
			requireClosed(t, c)
			assert.Equal(t, []string{tc.want}, m.Errors())
			assert.Equal(t, tc.prefaces, m.SlavePrefaces())
		})
	}
}

// TestMasterIgnoresSlaveStatus checks a newer slave's status field is
// recorded and otherwise ignored.
func TestMasterIgnoresSlaveStatus(t *testing.T) {
	m := echoMaster(t)
	c := rawDial(t, m.Addr())
	rawHandshake(t, c, 1, 0xbeef)
	_, err := c.Write(append(appendRequestHeader(nil, requestHeader{Method: MethodID("echo"), Length: 2}), "ok"...))
	require.NoError(t, err)
	assert.Equal(t, appendResponseHeader(nil, 0, 0, 2), readN(t, c, ResponseHeaderSize))
	assert.Equal(t, "ok", string(readN(t, c, 2)))
	assert.Equal(t, []uint16{0xbeef}, m.SlavePrefaces())
	assert.Empty(t, m.Errors())
}

func TestMasterTooLarge(t *testing.T) {
	m := echoMaster(t)
	c := rawDial(t, m.Addr())
	rawHandshake(t, c, 1, 0)
	_, err := c.Write(appendRequestHeader(nil, requestHeader{Method: MethodID("echo"), Length: MaxRequest + 1}))
	require.NoError(t, err)
	h := parseResponseHeader(readN(t, c, ResponseHeaderSize))
	assert.Equal(t, StatusTooLarge, h.Status)
	assert.Contains(t, string(readN(t, c, int(h.Length))), "exceeds the limit")
	requireClosed(t, c)
	assert.Empty(t, m.Errors())
}

func TestMasterAcceptsLimit(t *testing.T) {
	s := dial(t, echoMaster(t).Addr())
	req := bytes.Repeat([]byte{7}, MaxRequest)
	resp, err := s.Call("echo", req, 0)
	require.NoError(t, err)
	assert.Equal(t, StatusOK, resp.Status)
	assert.True(t, bytes.Equal(req, resp.Payload))
}

// TestSlaveRejectsResponses checks a bad response header makes Call fail
// and the connection unusable.
func TestSlaveRejectsResponses(t *testing.T) {
	for name, tc := range map[string]struct {
		header []byte
		want   string
	}{
		"reserved":  {unhex(t, "00000100000000000000000000000000"), "reserved"},
		"too large": {appendResponseHeader(nil, 0, 0, MaxResponse+1), "exceeds the limit"},
		"truncated": {unhex(t, "0000"), "response header"},
	} {
		t.Run(name, func(t *testing.T) {
			addr := rawListener(t, func(c net.Conn) {
				_, _ = c.Write(appendPreface(nil, 1, 0))
				_, _ = io.ReadFull(c, make([]byte, PrefaceSize+RequestHeaderSize))
				_, _ = c.Write(tc.header)
			})
			s := dial(t, addr)
			_, err := s.Call("x", nil, 0)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, err = s.Call("x", nil, 0)
			assert.ErrorContains(t, err, "earlier error")
		})
	}
}

func TestCallNegativeTimeout(t *testing.T) {
	s := dial(t, echoMaster(t).Addr())
	_, err := s.Call("echo", nil, -time.Second)
	assert.Error(t, err)
	resp, err := s.Call("echo", []byte("a"), 0)
	require.NoError(t, err)
	assert.Equal(t, "a", string(resp.Payload))
}

func TestConcurrentCalls(t *testing.T) {
	m := echoMaster(t)
	shared := dial(t, m.Addr())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() { defer wg.Done(); callEcho(t, shared, i) }()
		go func() {
			defer wg.Done()
			s, err := Dial(m.Addr())
			if !assert.NoError(t, err) {
				return
			}
			defer s.Close()
			callEcho(t, s, i)
		}()
	}
	wg.Wait()
	assert.Equal(t, 16*10, m.Requests())
	assert.Len(t, m.SlavePrefaces(), 9)
	assert.Empty(t, m.Errors())
}

func callEcho(t *testing.T, s *SlaveConn, i int) {
	for j := range 10 {
		req := fmt.Appendf(nil, "%d/%d", i, j)
		resp, err := s.Call("echo", req, 0)
		if assert.NoError(t, err) {
			assert.Equal(t, string(req), string(resp.Payload))
		}
	}
}

// TestCleanupCloses checks the master peer closes its connections when its
// test ends.
func TestCleanupCloses(t *testing.T) {
	var s *SlaveConn
	t.Run("inner", func(t *testing.T) {
		m := echoMaster(t)
		var err error
		s, err = Dial(m.Addr())
		require.NoError(t, err)
		_, err = s.Call("echo", nil, 0)
		require.NoError(t, err)
	})
	require.NotNil(t, s)
	defer s.Close()
	_, err := s.Call("echo", nil, 0)
	assert.Error(t, err)
}

func TestMasterRefusesBadTables(t *testing.T) {
	ok := func([]byte) ([]byte, error) { return nil, nil }
	for name, methods := range map[string]map[string]Handler{
		"built in": {"capabilities": ok},
		"too long": {strings.Repeat("x", 1<<16): ok},
	} {
		_, _, err := methodTable(methods)
		assert.Error(t, err, name)
	}
}

func TestStatusError(t *testing.T) {
	var err error = &Status{Status: 7, Code: 9, Message: "no"}
	assert.Equal(t, "v1peer: status 7 code 9: no", err.Error())
}
