package main

import (
	"bytes"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/codec"
)

func TestParseJSONNumbers(t *testing.T) {
	v, err := parseJSON([]byte(`{"i": 1, "neg": -2, "big": 18446744073709551615, "f": 2.5, "e": 1e3, "list": [1, 1.5], "s": "x", "n": null, "b": true}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"i": int64(1), "neg": int64(-2), "big": uint64(math.MaxUint64), "f": 2.5, "e": 1000.0,
		"list": []any{int64(1), 1.5}, "s": "x", "n": nil, "b": true,
	}, v)

	v, err = parseJSON([]byte(" \n"))
	require.NoError(t, err)
	assert.Nil(t, v, "empty input is null")

	_, err = parseJSON([]byte(`1e999`))
	assert.ErrorContains(t, err, "does not fit in a 64-bit float")
}

func TestPrintable(t *testing.T) {
	// What cbor decodes into any: map[any]any with integer keys.
	in := map[string]any{"m": map[any]any{uint64(1): "one", "k": []any{map[any]any{int64(-1): 2.5}}}}
	data, err := codec.CBOR.Append(nil, in)
	require.NoError(t, err)
	var decoded any
	require.NoError(t, codec.CBOR.Unmarshal(data, &decoded))
	p, err := printable(decoded)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"m": map[string]any{"1": "one", "k": []any{map[string]any{"-1": 2.5}}}}, p)

	var b bytes.Buffer
	p, err = printable(map[string]any{
		"nan": math.NaN(), "inf": float32(math.Inf(1)), "big": *new(big.Int).Lsh(big.NewInt(1), 70), "html": "<&>",
	})
	require.NoError(t, err)
	require.NoError(t, printJSON(&b, p))
	assert.Equal(t, "{\n  \"big\": 1180591620717411303424,\n  \"html\": \"<&>\",\n  \"inf\": \"+Inf\",\n  \"nan\": \"NaN\"\n}\n", b.String())
}

func TestCodecFor(t *testing.T) {
	assert.Nil(t, codecFor(""))
	assert.Nil(t, codecFor("raw"))
	assert.Nil(t, codecFor("text/plain"), "an encoding no codec has: raw bytes")
	assert.Nil(t, codecFor("fastrpc.capabilities.v1"))
	assert.Equal(t, codec.Msgpack, codecFor("msgpack"))
	assert.Equal(t, codec.CBOR, codecFor("cbor"))
	assert.Equal(t, codec.JSON, codecFor("json"))
}
