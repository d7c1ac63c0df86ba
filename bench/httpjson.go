package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTP/1.1 with JSON, the standard library's server and client: a POST of
// {"data": "<base64>"} answered with the same document, both sides
// decoding into a struct with a []byte field. The client's Transport keeps
// one idle connection per caller. The streamed transfer is HTTP's own
// streaming form: one POST whose raw body is the whole payload (no JSON),
// read and dropped by the handler.

type jsonMsg struct {
	Data []byte `json:"data"`
}

type httpServer struct {
	srv *http.Server
	ln  net.Listener
}

func serveHTTP() (Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		var m jsonMsg
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&m)
	})
	mux.HandleFunc("POST /sink", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.CopyBuffer(io.Discard, r.Body, make([]byte, ChunkSize))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		_, _ = w.Write(b[:])
	})
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	s := &httpServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *httpServer) Addr() string { return s.ln.Addr().String() }
func (s *httpServer) Close() error { return s.srv.Close() }

func httpClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}}
}

type httpCaller struct {
	c   *http.Client
	url string
}

func (c httpCaller) Echo(req, dst []byte) ([]byte, error) {
	var body bytes.Buffer
	if err := json.NewEncoder(&body).Encode(jsonMsg{Data: req}); err != nil {
		return dst, err
	}
	resp, err := c.c.Post(c.url, "application/json", &body)
	if err != nil {
		return dst, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return dst, fmt.Errorf("http: %s: %s", resp.Status, b)
	}
	var m jsonMsg
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return dst, err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // the encoder's newline: keep the connection reusable
	return append(dst, m.Data...), nil
}

func httpJSONSystem() System {
	return System{
		Name:  "http-json",
		Serve: serveHTTP,
		Dial: func(addr string, callers int) (Client, error) {
			c := httpClient(callers)
			return shared{c: httpCaller{c: c, url: "http://" + addr + "/echo"}, close: func() error {
				c.CloseIdleConnections()
				return nil
			}}, nil
		},
		Stream:    streamHTTP,
		StreamHow: "one POST with the whole payload as its raw body (Content-Length set; not JSON)",
		Conns:     "one http.Client, an idle connection kept per caller",
	}
}

func streamHTTP(addr string, size int64) (int64, error) {
	c := httpClient(1)
	defer c.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/sink", NewSource(size))
	if err != nil {
		return 0, err
	}
	req.ContentLength = size
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, errors.New("http: bad sink answer")
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}
