package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
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

// printable turns a value a codec decoded into one encoding/json prints:
// maps with keys of any type (cbor's map[any]any, msgpack's for non-string
// keys) get their keys as text, floats that JSON cannot hold (NaN, ±Inf)
// become strings, big integers numbers.
func printable(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = printable(x)
		}
		return m
	case map[string]any:
		for k, x := range v {
			v[k] = printable(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = printable(x)
		}
		return v
	case float64:
		return finite(v)
	case float32:
		return finite(float64(v))
	case big.Int:
		return json.Number(v.String())
	case *big.Int:
		return json.Number(v.String())
	}
	return v
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
