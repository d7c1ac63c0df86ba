package conn

import "github.com/AmanTrance/FastRpc/internal/connhooks"

// The master and the slave reach these through internal/connhooks; they
// are not part of the public API.
func init() {
	connhooks.Register(connhooks.Hooks[*Conn]{
		WaitForData:     (*Conn).waitForData,
		Buffered:        (*Conn).buffered,
		Discard:         (*Conn).discard,
		Unsent:          (*Conn).unsent,
		SetCallDeadline: (*Conn).setCallDeadline,
		TakeCancel:      (*Conn).takeCancel,
	})
}
