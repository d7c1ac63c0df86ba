package slave_test

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// hangGuard bounds waits that only exist to keep a broken test from hanging.
const hangGuard = testserve.HangGuard

// serveMaster registers methods on a new master, serves it on a free
// loopback port and closes it when the test ends. It returns the master
// and its address.
func serveMaster(t testing.TB, cfg master.Config, methods map[string]master.Handler) (*master.Master, string) {
	t.Helper()
	m := master.New(cfg)
	for name, h := range methods {
		require.NoError(t, m.Register(name, master.MethodInfo{Description: name}, h))
	}
	return m, testserve.Serve(t, m).String()
}

// dialSlave returns a warmed slave for the master at addr, closed when the
// test ends.
func dialSlave(t testing.TB, addr string, cfg slave.Config) *slave.Slave {
	t.Helper()
	cfg.Address = addr
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	s, err := slave.Dial(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// callCtx is a context that only prevents hangs.
func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echo reads the whole request into memory and sends it back.
func echo(op *master.IOOperator) error {
	b, err := op.ReadAll()
	if err != nil {
		return err
	}
	return op.WriteIOFromBuffer(b)
}

// streamEcho sends the request back as it reads it, never holding it all.
func streamEcho(op *master.IOOperator) error {
	return op.WriteIOFromReader(op, int(op.ReadDataLeft()), 32<<10)
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 42})
	_, _ = r.Read(b)
	return b
}

// genReader yields size deterministic pseudo-random bytes by cycling
// through a block whose odd length keeps the pattern from lining up with
// any buffer size.
type genReader struct {
	block []byte
	off   int64
	left  int64
}

func newGenReader(size int64) *genReader {
	return &genReader{block: randomBytes(7, 1<<20+13), left: size}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	for n < len(p) {
		i := int(g.off % int64(len(g.block)))
		k := copy(p[n:], g.block[i:])
		n += k
		g.off += int64(k)
	}
	g.left -= int64(n)
	return n, nil
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// failReader fails the test if anything reads it.
type failReader struct{ t testing.TB }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("request body was read, but nothing should have been sent")
	return 0, io.ErrUnexpectedEOF
}
