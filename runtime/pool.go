package runtime

import (
	"context"
	"sync"
)

// pool holds the instances of one module. At most cap(sem) instances exist
// at once; each serves one request at a time. Safe for concurrent use.
type pool struct {
	newInstance func(context.Context) (*instance, error)
	sem         chan struct{} // one token per instance in use
	mu          sync.Mutex
	idle        []*instance
	closed      bool
}

func newPool(max int, newInstance func(context.Context) (*instance, error)) *pool {
	return &pool{newInstance: newInstance, sem: make(chan struct{}, max)}
}

// get returns an instance for the caller's exclusive use, waiting while max
// instances are busy, until ctx is done.
func (p *pool) get(ctx context.Context) (*instance, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	inst, err := p.newInstance(context.Background())
	if err != nil {
		<-p.sem
		return nil, err
	}
	return inst, nil
}

// put gives inst back. A broken instance (one that trapped, exited or may
// hold a half-finished request's state) is closed instead of kept.
func (p *pool) put(inst *instance, broken bool) {
	p.mu.Lock()
	if broken || p.closed {
		p.mu.Unlock()
		inst.close()
	} else {
		p.idle = append(p.idle, inst)
		p.mu.Unlock()
	}
	<-p.sem
}

// close closes the idle instances; instances in use are closed when put.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, inst := range idle {
		inst.close()
	}
}
