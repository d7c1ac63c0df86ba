package codec

// ScanMsgpack exposes the msgpack pre-scan to the tests.
var ScanMsgpack = scanMsgpack

// Estimate returns what the codec's weigher expects decoding data into v
// to allocate, or the walk's error.
func Estimate(c Codec, data []byte, v any) (uint64, error) {
	codec := cMsgpack
	if c.Name() == nameCBOR {
		codec = cCBOR
	}
	ti, _ := targetInfo(codec, v)
	w := weighers.Get().(*weigher)
	defer weighers.Put(w)
	w.reset(codec, ti)
	var err error
	if codec == cMsgpack {
		err = w.msgpack(data)
	} else {
		err = w.cbor(data)
	}
	return w.cost, err
}

// Cheap reports whether the codec skips weighing n bytes decoded into v,
// and the per-item bound that decides it.
func Cheap(c Codec, n int, v any) (bool, uint64) {
	codec := cMsgpack
	if c.Name() == nameCBOR {
		codec = cCBOR
	}
	ti, _ := targetInfo(codec, v)
	return ti.cheap(n), ti.amp
}

// StaticBound is the most the weigher can charge for n bytes decoded into
// v, by the per-item bound alone.
func StaticBound(c Codec, n int, v any) uint64 {
	_, amp := Cheap(c, n, v)
	return sat(mul(uint64(n), sat(amp, perByteMax)), fixedMax)
}
