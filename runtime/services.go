package runtime

import (
	"fmt"
	"strings"
	"sync"

	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/outbound"
)

// This file gives guests their services: outbound HTTP under each route's
// allowedOutboundHosts.

// policies are a Server's outbound policies, one per distinct list and
// source, so that routes sharing a list share its connections, while a
// connection dialled under one list's allowances is never reused under
// another's.
type policies struct {
	mu      sync.Mutex
	ceiling *outbound.Policy // Config.AllowedOutboundHosts when Config.Untrusted; else nil
	byList  map[string]*outbound.Policy
}

// policy returns the policy of entries read from source, checked against
// the ceiling.
func (p *policies) policy(entries []string, source string) (*outbound.Policy, error) {
	key := source + "\x00" + strings.Join(entries, "\x00")
	p.mu.Lock()
	defer p.mu.Unlock()
	if pol, ok := p.byList[key]; ok {
		return pol, nil
	}
	pol, err := outbound.Parse(entries, source)
	if err != nil {
		return nil, err
	}
	if p.ceiling != nil && pol != p.ceiling {
		if err := pol.Within(p.ceiling); err != nil {
			pol.Close()
			return nil, fmt.Errorf("%s: %w", source, err)
		}
	}
	if p.byList == nil {
		p.byList = map[string]*outbound.Policy{}
	}
	p.byList[key] = pol
	return pol, nil
}

func (p *policies) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pol := range p.byList {
		pol.Close()
	}
}

// outbound returns the outbound side of the route of file, whose route.json
// (confFile) lists routeHosts: the first list set of the route's, the project's and
// the operator's.
func (s *Server) outbound(file string, routeHosts []string, confFile string, lim Limits) (*host.Outbound, error) {
	entries, source := s.cfg.AllowedOutboundHosts, "wasmroute.json" // where the author adds an entry
	if s.projectHosts != nil {
		entries = s.projectHosts
	}
	if routeHosts != nil {
		entries, source = routeHosts, confFile
	}
	pol, err := s.policies.policy(entries, source)
	if err != nil {
		return nil, err
	}
	return &host.Outbound{
		Client:         pol.Client(),
		Allow:          pol.Allow,
		MaxFetches:     lim.MaxFetches,
		MaxConcurrency: lim.MaxFetchConcurrency,
		MaxBody:        lim.MaxFetchBody,
		Denied: func(msg string) {
			// Within the guest output's rate: a guest cannot flood the log
			// with denials either.
			if msg = s.output.admit(s.log, file, msg); msg != "" {
				s.log.Warn("fetch denied", "file", file, "err", msg)
			}
		},
	}, nil
}
