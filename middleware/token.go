package middleware

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// AuthorizationKey is the metadata key a bearer token travels under, as
// "Bearer <token>" (the HTTP and gRPC convention).
const AuthorizationKey = "authorization"

const bearerPrefix = "Bearer "

// TokenAuth is the "master.middleware.token" module: it lets a call through
// only when its metadata carries a bearer token the master accepts, and
// refuses it otherwise with StatusPermissionDenied before the handler
// runs. Tokens are compared in constant time (as SHA-256 digests, so not
// even their length shows), and appear in no log and no error. Calls over
// protocol version 1 carry no metadata, so they are refused.
//
//	{"module": "token", "tokens_file": "/etc/fastrpc/tokens", "public_capabilities": true}
type TokenAuth struct {
	// Tokens are the accepted tokens.
	Tokens []string `json:"tokens,omitempty"`
	// TokensFile names a file of accepted tokens, one per line (blank lines
	// and lines starting with # are skipped), read when the module is
	// provisioned.
	TokensFile string `json:"tokens_file,omitempty"`
	// Check, when set, decides instead of the lists: it gets the token
	// presented and returns nil to accept it; for rotation or a lookup
	// elsewhere. Its error's text is not sent to the slave.
	Check func(ctx context.Context, token string) error `json:"-"`
	// PublicCapabilities lets anyone call the built-in capabilities method.
	PublicCapabilities bool `json:"public_capabilities,omitempty"`

	digests     [][sha256.Size]byte
	provisioned bool
}

// FastRpcModule implements module.Module.
func (TokenAuth) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: masterID("token"), New: func() module.Module { return new(TokenAuth) }}
}

// Provision reads TokensFile and digests the accepted tokens.
func (a *TokenAuth) Provision(context.Context) error {
	tokens := a.Tokens
	if a.TokensFile != "" {
		more, err := readTokens(a.TokensFile)
		if err != nil {
			return err
		}
		tokens = append(tokens[:len(tokens):len(tokens)], more...)
	}
	a.digests, a.provisioned = a.digests[:0], true
	for i, t := range tokens {
		if t == "" {
			return fmt.Errorf("tokens[%d]: empty; an empty token would let anyone in", i)
		}
		a.digests = append(a.digests, sha256.Sum256([]byte(t)))
	}
	return nil
}

// Validate checks that something can accept a token.
func (a *TokenAuth) Validate() error {
	if a.Check == nil && len(a.digests) == 0 {
		return errors.New("no tokens: set tokens or tokens_file (or Check in Go)")
	}
	return nil
}

// readTokens reads a tokens file; errors name the file, never a token.
func readTokens(name string) ([]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("tokens_file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			tokens = append(tokens, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens_file %s: %w", name, err)
	}
	return tokens, nil
}

// WrapHandler implements master.MiddlewareModule. A TokenAuth built in Go
// rather than loaded as a module is provisioned here; if that fails (an
// unreadable TokensFile, an empty token) it accepts no token at all: it
// fails closed. Call Provision and Validate first to see why.
func (a *TokenAuth) WrapHandler(next master.Handler) master.Handler {
	if !a.provisioned {
		if err := a.Provision(context.Background()); err != nil {
			a.digests = nil
		}
	}
	return func(op *master.IOOperator) error {
		if a.PublicCapabilities && op.Method() == frame.CapabilitiesName {
			return next(op)
		}
		v, ok := op.Metadata().Get(AuthorizationKey)
		token, bearer := strings.CutPrefix(v, bearerPrefix)
		switch {
		case !ok:
			return denied("no bearer token (metadata " + AuthorizationKey + ")")
		case !bearer || token == "":
			return denied("the " + AuthorizationKey + " metadata is not \"Bearer <token>\"")
		case !a.accepts(op, token):
			return denied("the bearer token is not accepted")
		}
		return next(op)
	}
}

// accepts reports whether token is accepted, comparing its digest with
// every accepted one, without stopping at a match.
func (a *TokenAuth) accepts(op *master.IOOperator, token string) bool {
	if a.Check != nil {
		return a.Check(op.Context(), token) == nil
	}
	d := sha256.Sum256([]byte(token))
	found := 0
	for i := range a.digests {
		found |= subtle.ConstantTimeCompare(d[:], a.digests[i][:])
	}
	return found == 1
}

// CallToken is the "slave.middleware.token" module: it sends a bearer
// token with every call, in the authorization metadata, for a master with
// TokenAuth. The token comes from Token, from TokenFile (read when the
// module is provisioned), or from Source on every call (for rotation).
//
//	{"module": "token", "token_file": "/run/secrets/fastrpc-token"}
type CallToken struct {
	// Token is the token to send.
	Token string `json:"token,omitempty"`
	// TokenFile names a file holding the token (surrounding white space is
	// trimmed), read when the module is provisioned.
	TokenFile string `json:"token_file,omitempty"`
	// Source, when set, gives the token for each call instead.
	Source func(ctx context.Context) (string, error) `json:"-"`
}

// FastRpcModule implements module.Module.
func (CallToken) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: slaveID("token"), New: func() module.Module { return new(CallToken) }}
}

// Provision reads TokenFile.
func (c *CallToken) Provision(context.Context) error {
	if c.TokenFile == "" {
		return nil
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return fmt.Errorf("token_file: %w", err)
	}
	c.Token = strings.TrimSpace(string(b))
	if c.Token == "" {
		return fmt.Errorf("token_file %s: empty", c.TokenFile)
	}
	return nil
}

// Validate checks that there is a token to send.
func (c *CallToken) Validate() error {
	if c.Token == "" && c.Source == nil {
		return errors.New("no token: set token or token_file (or Source in Go)")
	}
	return nil
}

// WrapCall implements slave.MiddlewareModule. A failing Source fails the
// call before anything is sent.
func (c *CallToken) WrapCall(next slave.Invoker) slave.Invoker {
	return func(ctx context.Context, info *slave.CallInfo) error {
		token := c.Token
		if c.Source != nil {
			t, err := c.Source(ctx)
			if err != nil {
				return fmt.Errorf("fastrpc: call %q: getting the bearer token: %w; nothing was sent", info.Method, err)
			}
			token = t
		}
		return next(metadata.AppendToOutgoingContext(ctx, AuthorizationKey, bearerPrefix+token), info)
	}
}
