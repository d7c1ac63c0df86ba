package codec

// ScanMsgpack exposes the msgpack pre-scan to the tests.
var ScanMsgpack = scanMsgpack
