package fastrpcprom

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

func init() {
	module.Register(Metrics{})
	module.Register(CallMetrics{})
}

// Each module serves one namespace, with that namespace's interface.
var (
	_ module.Module           = Metrics{}
	_ module.Module           = CallMetrics{}
	_ module.Provisioner      = (*Metrics)(nil)
	_ module.Provisioner      = (*CallMetrics)(nil)
	_ master.MiddlewareModule = (*Metrics)(nil)
	_ slave.MiddlewareModule  = (*CallMetrics)(nil)
)

// Metrics is the "master.middleware.prometheus" module: ServerMetrics for
// a master configured in JSON (master.FromJSON), registered with
// Registerer when the module is provisioned. Its JSON config is Options's
// fields:
//
//	"middleware": [{"module": "prometheus", "namespace": "myapp", "sizes": true}]
//
// In Go, use NewServerMetrics and ServerMetrics.WrapHandler instead.
type Metrics struct {
	// Registerer is where the collectors are registered; nil means
	// prometheus.DefaultRegisterer (as it is when provisioning).
	Registerer prometheus.Registerer `json:"-"`
	Options

	server *ServerMetrics
}

// FastRpcModule implements module.Module.
func (Metrics) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{
		ID:  module.ID(module.NamespaceMasterMiddleware + ".prometheus"),
		New: func() module.Module { return new(Metrics) },
	}
}

// Provision makes the ServerMetrics and registers its collectors, reusing
// those already registered by another master (see NewServerMetrics). It
// fails on invalid options or a conflicting metric. Provisioning again
// does nothing.
func (m *Metrics) Provision(context.Context) error {
	if m.server != nil {
		return nil
	}
	s, err := NewServerMetrics(m.Registerer, m.Options)
	if err != nil {
		return err
	}
	m.server = s
	return nil
}

// WrapHandler implements master.MiddlewareModule, delegating to
// middleware.Metrics with the ServerMetrics as its sink. A Metrics that
// was not provisioned is provisioned here, and WrapHandler panics if that
// fails: call Provision first to get the error instead.
func (m *Metrics) WrapHandler(next master.Handler) master.Handler {
	if err := m.Provision(context.Background()); err != nil {
		panic(fmt.Sprintf("fastrpcprom: Metrics.WrapHandler: %v", err))
	}
	return m.server.WrapHandler(next)
}

// CallMetrics is the "slave.middleware.prometheus" module: ClientMetrics
// for a slave configured in JSON (slave.FromJSON), registered with
// Registerer when the module is provisioned. Its JSON config is Options's
// fields:
//
//	"middleware": [{"module": "prometheus"}]
//
// In Go, use NewClientMetrics and ClientMetrics.WrapCall instead.
type CallMetrics struct {
	// Registerer is where the collectors are registered; nil means
	// prometheus.DefaultRegisterer (as it is when provisioning).
	Registerer prometheus.Registerer `json:"-"`
	Options

	client *ClientMetrics
}

// FastRpcModule implements module.Module.
func (CallMetrics) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{
		ID:  module.ID(module.NamespaceSlaveMiddleware + ".prometheus"),
		New: func() module.Module { return new(CallMetrics) },
	}
}

// Provision makes the ClientMetrics and registers its collectors, reusing
// those already registered by another slave (see NewClientMetrics). It
// fails on invalid options or a conflicting metric. Provisioning again
// does nothing.
func (m *CallMetrics) Provision(context.Context) error {
	if m.client != nil {
		return nil
	}
	c, err := NewClientMetrics(m.Registerer, m.Options)
	if err != nil {
		return err
	}
	m.client = c
	return nil
}

// WrapCall implements slave.MiddlewareModule, delegating to
// middleware.CallMetrics with the ClientMetrics as its sink. A CallMetrics
// that was not provisioned is provisioned here, and WrapCall panics if
// that fails: call Provision first to get the error instead.
func (m *CallMetrics) WrapCall(next slave.Invoker) slave.Invoker {
	if err := m.Provision(context.Background()); err != nil {
		panic(fmt.Sprintf("fastrpcprom: CallMetrics.WrapCall: %v", err))
	}
	return m.client.WrapCall(next)
}
