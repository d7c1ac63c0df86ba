package frame_test

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
)

func ExamplePutRequestHeader() {
	var b [frame.RequestHeaderSize]byte
	frame.PutRequestHeader(b[:], frame.RequestHeader{
		Method:  frame.MethodID("ping"),
		Length:  4,
		Timeout: 1500 * time.Millisecond,
	})
	fmt.Println("method: ", hex.EncodeToString(b[0:8]))
	fmt.Println("length: ", hex.EncodeToString(b[8:16]))
	fmt.Println("timeout:", hex.EncodeToString(b[16:24]))
	fmt.Println("flags:  ", hex.EncodeToString(b[24:28]))
	fmt.Println("reserved:", hex.EncodeToString(b[28:32]))
	// Output:
	// method:  bf30e00dc53307a9
	// length:  0000000000000004
	// timeout: 0000000059682f00
	// flags:   00000000
	// reserved: 00000000
}

func ExampleParseCapabilities() {
	body, err := frame.AppendCapabilities(nil, []frame.Capability{
		{Name: frame.CapabilitiesName, Description: "lists methods", ReturningEncoding: frame.CapabilitiesEncoding},
		{Name: "ping", Description: "answers pong", IncomingEncoding: "raw", ReturningEncoding: "utf-8"},
	})
	if err != nil {
		panic(err)
	}
	caps, err := frame.ParseCapabilities(body)
	if err != nil {
		panic(err)
	}
	for _, c := range caps {
		fmt.Printf("%016x %s: %s (%q -> %q)\n", frame.MethodID(c.Name), c.Name, c.Description, c.IncomingEncoding, c.ReturningEncoding)
	}
	// Output:
	// 0000000000000000 capabilities: lists methods ("" -> "fastrpc.capabilities.v1")
	// bf30e00dc53307a9 ping: answers pong ("raw" -> "utf-8")
}
