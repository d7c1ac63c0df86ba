// Package etcdtest runs a real, single-member etcd server inside a
// process, on loopback ports, for tests and examples of FastRpc's etcd
// registry and resolver. It can be stopped and started again on the same
// ports and data, to test what clients do while etcd is away.
//
// It is not for production: the server has one member, no TLS, and logs
// only errors.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// startTimeout bounds how long a start waits for the server to be ready;
// it starts in about a second.
const startTimeout = 30 * time.Second

// Server is an etcd server running in this process.
type Server struct {
	dir          string
	client, peer url.URL

	mu sync.Mutex
	e  *embed.Etcd // nil while stopped
}

// New starts a server keeping its data in dir (which it creates), on two
// free loopback ports.
func New(dir string) (*Server, error) {
	var err error
	// A port found free can be taken by another process before etcd binds
	// it: try other ports a few times.
	for range 3 {
		var client, peer url.URL
		if client, err = freeURL(); err != nil {
			return nil, err
		}
		if peer, err = freeURL(); err != nil {
			return nil, err
		}
		s := &Server{dir: dir, client: client, peer: peer}
		if err = s.Start(); err == nil {
			return s, nil
		}
		_ = os.RemoveAll(dir)
	}
	return nil, err
}

// Start starts a server for t, with its data in a directory of t's, and
// stops it when t ends. It fails t if the server does not start.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's client URL, such as "http://127.0.0.1:40123"; it
// stays the same across Stop and Start.
func (s *Server) URL() string { return s.client.String() }

// NewClient returns a client of the server, which the caller closes.
func (s *Server) NewClient() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: []string{s.URL()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// Start starts the server again after Stop, on the same ports and data.
// It does nothing if the server runs.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		return nil
	}
	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = s.dir
	cfg.ListenClientUrls = []url.URL{s.client}
	cfg.AdvertiseClientUrls = []url.URL{s.client}
	cfg.ListenPeerUrls = []url.URL{s.peer}
	cfg.AdvertisePeerUrls = []url.URL{s.peer}
	cfg.InitialCluster = cfg.Name + "=" + s.peer.String()
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd on %s: %w", s.URL(), err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcd on %s failed while starting: %w", s.URL(), err)
	case <-time.After(startTimeout):
		e.Server.Stop()
		e.Close()
		return fmt.Errorf("etcd on %s was not ready within %v", s.URL(), startTimeout)
	}
	s.e = e
	return nil
}

// Stop stops the server, keeping its data; clients see it as down until
// Start. It does nothing if the server is stopped.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e == nil {
		return
	}
	s.e.Close()
	s.e = nil
}

// Remove stops the server and removes its data directory; for servers
// made with New.
func (s *Server) Remove() error {
	s.Stop()
	return os.RemoveAll(s.dir)
}

// freeURL returns a URL of a loopback port that was free a moment ago.
func freeURL() (url.URL, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, fmt.Errorf("etcdtest: find a free loopback port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return url.URL{}, err
	}
	return url.URL{Scheme: "http", Host: addr}, nil
}
