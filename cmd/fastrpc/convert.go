package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/internal/errtext"
)

// Conversions between the JSON a user types and reads, and the values a
// codec encodes and decodes. The tool knows no Go types of the master's:
// it goes through any, and the method's codec does the rest.

// parseJSON decodes one JSON value for a codec to encode. Numbers become
// int64 when they are integers that fit (uint64 above that), float64
// otherwise, so that msgpack and cbor send integers as integers. Empty
// input is null.
func parseJSON(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%v (at byte %d)", err, se.Offset)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("the JSON ends early")
		}
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("more than one JSON value: something follows the first at byte %d", dec.InputOffset())
	}
	return numbers(v)
}

// numbers replaces every json.Number in v by an int64, uint64 or float64.
func numbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		return number(v.String())
	case map[string]any:
		for k, x := range v {
			y, err := numbers(x)
			if err != nil {
				return nil, err
			}
			v[k] = y
		}
	case []any:
		for i, x := range v {
			y, err := numbers(x)
			if err != nil {
				return nil, err
			}
			v[i] = y
		}
	}
	return v, nil
}

func number(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
		return nil, fmt.Errorf("the integer %s does not fit in 64 bits", s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("the number %s does not fit in a 64-bit float", s)
	}
	return f, nil
}

// printable turns a value a codec decoded into one encoding/json prints
// without loss: maps with keys of any type (cbor's map[any]any, the
// msgpack reader's) get their keys as text, and two keys that print alike
// are an error rather than one silently dropped; integers stay int64 or
// uint64, big integers numbers; floats that JSON cannot hold (NaN, ±Inf)
// become strings; byte strings stay []byte, which encoding/json prints as
// base64; a cbor tag it has no Go type for is {"tag": N, "value": ...}.
func printable(v any) (any, error) {
	switch v := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			key, err := printableKey(k)
			if err != nil {
				return nil, err
			}
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("two keys print as %q", key)
			}
			y, err := printable(x)
			if err != nil {
				return nil, err
			}
			m[key] = y
		}
		return m, nil
	case map[string]any:
		for k, x := range v {
			y, err := printable(x)
			if err != nil {
				return nil, err
			}
			v[k] = y
		}
		return v, nil
	case []any:
		for i, x := range v {
			y, err := printable(x)
			if err != nil {
				return nil, err
			}
			v[i] = y
		}
		return v, nil
	case float64:
		return finite(v), nil
	case float32:
		return finite(float64(v)), nil
	case big.Int:
		return json.Number(v.String()), nil
	case *big.Int:
		return json.Number(v.String()), nil
	case cbor.ByteString:
		return []byte(v), nil
	case cbor.Tag:
		x, err := printable(v.Content)
		if err != nil {
			return nil, err
		}
		return map[string]any{"tag": v.Number, "value": x}, nil
	case cbor.RawTag:
		var content any
		if err := codec.CBOR.Unmarshal(v.Content, &content); err != nil {
			return nil, errors.New(errtext.Text(err))
		}
		x, err := printable(content)
		if err != nil {
			return nil, err
		}
		return map[string]any{"tag": v.Number, "value": x}, nil
	}
	return v, nil
}

// printableKey is a map key as text: as fmt.Sprint prints it, but byte
// strings as base64 like their values and other containers as JSON.
func printableKey(k any) (string, error) {
	switch k := k.(type) {
	case string:
		return k, nil
	case cbor.ByteString:
		return base64.StdEncoding.EncodeToString([]byte(k)), nil
	case []byte:
		return base64.StdEncoding.EncodeToString(k), nil
	case nil, bool, int64, uint64, int, float64, float32:
		if f, ok := k.(float64); ok {
			return fmt.Sprint(finite(f)), nil
		}
		return fmt.Sprint(k), nil
	}
	x, err := printable(k)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprint(k), nil
	}
	return string(b), nil
}

func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return f
}

// printJSON writes v as indented JSON, then a newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
