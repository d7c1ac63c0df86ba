// Command typed runs one FastRpc master with typed services side by side,
// each with its own codec (msgpack, cbor, json, and an XML codec defined
// and registered in this very file as a module), and one slave that calls
// them all with the codec each method advertises. Run it with:
//
//	go run ./examples/typed
package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log"
	"math"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	fastrpc "github.com/AmanTrance/FastRpc"
	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/typed"
)

// xmlCodec is a third-party codec: encoding/xml, registered as the module
// "codec.xml". Nothing in FastRpc knows about it; a master advertises "xml"
// for the methods that use it, and a slave that imports the package
// defining it (here: the same program) finds it by that name.
//
// It is an illustration: a codec for untrusted input must also follow the
// hostile-input rules of codec.Codec.
type xmlCodec struct{}

func (xmlCodec) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: "codec.xml", New: func() module.Module { return xmlCodec{} }}
}

func (xmlCodec) Name() string { return "xml" }

func (xmlCodec) Append(dst []byte, v any) ([]byte, error) {
	b, err := xml.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (xmlCodec) Unmarshal(data []byte, v any) error { return xml.Unmarshal(data, v) }

func init() { module.Register(xmlCodec{}) }

// The services' types. One set of json tags names the fields for msgpack,
// cbor and json alike.
type (
	StockReq struct {
		SKU   string `json:"sku"`
		Delta int    `json:"delta"`
	}
	Stock struct {
		SKU       string    `json:"sku"`
		OnHand    int       `json:"on_hand"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	Route struct {
		Stops []LatLon `json:"stops"`
	}
	LatLon struct {
		Lat float64 `json:"lat"`
		Lon float64 `json:"lon"`
	}
	Report struct {
		Title string         `json:"title"`
		Lines []string       `json:"lines"`
		Tags  map[string]int `json:"tags"`
	}
	Greeting struct {
		XMLName xml.Name `xml:"greeting"`
		To      string   `xml:"to"`
		Text    string   `xml:"text,omitempty"`
	}
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	master, err := fastrpc.NewMaster()
	if err != nil {
		return err
	}
	var mu sync.Mutex // handlers run concurrently, one goroutine per connection
	stock := map[string]int{"apple": 10}
	xmlc, err := codec.Lookup("xml") // the module registered above
	if err != nil {
		return err
	}
	for _, reg := range []error{
		typed.Register(master, "inventory.adjust", codec.Msgpack, func(ctx context.Context, r StockReq) (Stock, error) {
			mu.Lock()
			defer mu.Unlock()
			if _, ok := stock[r.SKU]; !ok {
				return Stock{}, typed.Errorf(404, "unknown SKU %q", r.SKU)
			}
			stock[r.SKU] += r.Delta
			return Stock{SKU: r.SKU, OnHand: stock[r.SKU], UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)}, nil
		}, typed.WithDescription("adds delta to a SKU's stock")),
		typed.Register(master, "geo.length", codec.CBOR, routeLength, typed.WithDescription("great-circle length in km")),
		typed.Register(master, "report.summarize", codec.JSON, summarize),
		typed.Register(master, "greet", xmlc, func(ctx context.Context, g Greeting) (Greeting, error) {
			return Greeting{To: g.To, Text: "hello, " + g.To}, nil
		}),
	} {
		if reg != nil {
			return reg
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- master.Serve(ctx, ln) }()
	addr := ln.Addr().(*net.TCPAddr)
	fmt.Printf("master listening on %s\n", addr)

	client, err := fastrpc.NewSlave(addr.IP, addr.Port, 4)
	if err != nil {
		return err
	}
	defer client.DeInitialize()

	caps, err := client.GetMasterCapabilities()
	if err != nil {
		return err
	}
	fmt.Println("capabilities:")
	sort.Slice(caps, func(i, j int) bool { return caps[i].Name < caps[j].Name })
	for _, c := range caps {
		fmt.Printf("  %-18s %-8s %s\n", c.Name, c.IncomingEncoding, c.Description)
	}

	// Each call uses the codec the master advertises for the method.
	st, err := typed.Call[StockReq, Stock](ctx, client, "inventory.adjust", StockReq{SKU: "apple", Delta: 5})
	if err != nil {
		return err
	}
	fmt.Printf("inventory.adjust (msgpack) -> %s on hand: %d, updated %s\n", st.SKU, st.OnHand, st.UpdatedAt.UTC().Format(time.RFC3339Nano))

	km, err := typed.Call[Route, float64](ctx, client, "geo.length", Route{Stops: []LatLon{{48.8566, 2.3522}, {51.5074, -0.1278}}})
	if err != nil {
		return err
	}
	fmt.Printf("geo.length (cbor) -> Paris to London: %.0f km\n", km)

	rep, err := typed.Call[[]string, Report](ctx, client, "report.summarize", []string{"alpha beta", "beta gamma", "beta"})
	if err != nil {
		return err
	}
	fmt.Printf("report.summarize (json) -> %q, %d lines, beta counted %d times\n", rep.Title, len(rep.Lines), rep.Tags["beta"])

	g, err := typed.Call[Greeting, Greeting](ctx, client, "greet", Greeting{To: "world"})
	if err != nil {
		return err
	}
	fmt.Printf("greet (xml, a custom codec module) -> %q\n", g.Text)

	// A stub for a hot path: the codec is fixed, no lookup per call.
	adjust := typed.NewMethod[StockReq, Stock](client, "inventory.adjust", codec.Msgpack)
	for i := 0; i < 3; i++ {
		if st, err = adjust.Call(ctx, StockReq{SKU: "apple", Delta: -1}); err != nil {
			return err
		}
	}
	fmt.Printf("3 x inventory.adjust via typed.NewMethod -> %d on hand\n", st.OnHand)

	// Errors: a handler's code arrives; the raw path's error is inside.
	_, err = typed.Call[StockReq, Stock](ctx, client, "inventory.adjust", StockReq{SKU: "pear"})
	var te *typed.Error
	var re *slave.RemoteError
	if !errors.As(err, &te) || !errors.As(err, &re) {
		return fmt.Errorf("expected an application error, got %v", err)
	}
	fmt.Printf("inventory.adjust pear -> code %d, %q (application error: %v)\n", te.Code(), te.Message, errors.Is(err, slave.ErrApplication))

	// A forced codec that disagrees with the master fails before sending.
	_, err = typed.Call[StockReq, Stock](ctx, client, "inventory.adjust", StockReq{SKU: "apple"}, typed.WithCodec(codec.JSON))
	fmt.Printf("inventory.adjust WithCodec(json) -> mismatch: %v\n", errors.Is(err, typed.ErrCodecMismatch))

	_, err = typed.Call[int, int](ctx, client, "no.such.method", 1)
	fmt.Printf("no.such.method -> unknown method: %v\n", errors.Is(err, slave.ErrUnknownMethod))

	stop()
	if err := <-served; err != nil {
		return err
	}
	fmt.Println("master stopped")
	return nil
}

// routeLength sums great-circle distances between consecutive stops.
func routeLength(ctx context.Context, r Route) (float64, error) {
	if len(r.Stops) < 2 {
		return 0, typed.Errorf(400, "a route needs 2 stops, got %d", len(r.Stops))
	}
	const earthKm = 6371.0
	rad := func(d float64) float64 { return d * math.Pi / 180 }
	total := 0.0
	for i := 1; i < len(r.Stops); i++ {
		a, b := r.Stops[i-1], r.Stops[i]
		dLat, dLon := rad(b.Lat-a.Lat), rad(b.Lon-a.Lon)
		h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(rad(a.Lat))*math.Cos(rad(b.Lat))*math.Sin(dLon/2)*math.Sin(dLon/2)
		total += 2 * earthKm * math.Asin(math.Sqrt(h))
	}
	return total, nil
}

// summarize counts the words of some lines.
func summarize(ctx context.Context, lines []string) (Report, error) {
	r := Report{Title: "word counts", Lines: lines, Tags: map[string]int{}}
	for _, l := range lines {
		for _, w := range strings.Fields(l) {
			r.Tags[w]++
		}
	}
	return r, nil
}
