package master

import (
	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/internal/connhooks"
)

// connHooks are the operations of conn.Conn kept out of its public API.
var connHooks = connhooks.Of[*conn.Conn]()
