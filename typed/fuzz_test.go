package typed_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/typed"
)

// fuzzHandler sends arbitrary bytes, through a real slave and master
// started once per fuzz process, to typed handlers using c: the master must
// answer every input, ok or with an application error, and keep the
// connection.
func fuzzHandler(f *testing.F, c codec.Codec) {
	for _, v := range []any{sampleDoc(), Doc{}, []any{1, "x", nil}, map[string]any{"leaf": map[string]any{"name": "n"}}, "s", 7} {
		b, err := c.Append(nil, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range hostile(c) {
		if len(b) <= 4<<10 { // big seeds make the fuzzer spend its time minimizing
			f.Add(b)
		}
	}

	m := master.New(master.Config{})
	if err := typed.Register(m, "doc", c, echo[Doc]); err != nil {
		f.Fatal(err)
	}
	if err := typed.Register(m, "any", c, echo[any]); err != nil {
		f.Fatal(err)
	}
	s := dial(f, serve(f, m))
	dials := s.PoolStats().Dials

	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, method := range []string{"doc", "any"} {
			resp, err := s.Call(ctx, method, data)
			if err != nil {
				var re *slave.RemoteError
				if !errors.As(err, &re) || re.Status != frame.StatusApplicationError {
					t.Fatalf("%s: the master did not answer with ok or an application error: %v", method, err)
				}
				if re.Code != typed.CodeBadRequest && re.Code != typed.CodeBadResponse {
					t.Fatalf("%s: unexpected application error: %v", method, err)
				}
				continue
			}
			if method == "doc" {
				// Accepted input comes back re-encoded; it must decode.
				var d Doc
				if err := c.Unmarshal(resp, &d); err != nil {
					t.Fatalf("the master's own response does not decode: %v", err)
				}
			}
		}
		if got := s.PoolStats().Dials; got != dials {
			t.Fatalf("a connection was lost: %d dials, started with %d", got, dials)
		}
	})
}

func FuzzMsgpackHandler(f *testing.F) { fuzzHandler(f, codec.Msgpack) }
func FuzzCBORHandler(f *testing.F)    { fuzzHandler(f, codec.CBOR) }
func FuzzJSONHandler(f *testing.F)    { fuzzHandler(f, codec.JSON) }
