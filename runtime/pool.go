package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// errBusy is returned by pool.get when no instance came free in time.
var errBusy = errors.New("busy")

// errTenantBusy is errBusy when the tenant, not the route, was at its limit.
var errTenantBusy = fmt.Errorf("%w: the tenant's instances", errBusy)

// pool holds the instances of one module. At most cap(sem) of them exist at
// once, and each in use also holds a token of its project's tenant
// semaphore, taken after the route's; an instance serves one request at a
// time. Safe for concurrent use.
type pool struct {
	newInstance func(context.Context) (*instance, error)
	sem         chan struct{} // one token per instance in use
	tenant      chan struct{} // shared by the project's pools
	mu          sync.Mutex
	idle        []idle // oldest first; get takes the newest
	closed      bool
}

// idle is an instance waiting in its pool, and since when.
type idle struct {
	inst  *instance
	since time.Time
}

func newPool(max int, tenant chan struct{}, newInstance func(context.Context) (*instance, error)) *pool {
	return &pool{newInstance: newInstance, sem: make(chan struct{}, max), tenant: tenant}
}

// get returns an instance for the caller's exclusive use. While the route
// or its tenant is at its limit it waits, at most wait: then errBusy. It
// returns ctx's error if ctx ends first.
func (p *pool) get(ctx context.Context, wait time.Duration) (*instance, error) {
	var timer *time.Timer // made only if a wait is needed, shared by both waits
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// The route's token first: a request queued for a busy route holds
	// none of its tenant's, so a flood on one route cannot delay the
	// tenant's other routes; only instances in use count against the
	// tenant.
	if err := acquire(ctx, p.sem, wait, &timer); err != nil {
		return nil, err
	}
	if err := acquire(ctx, p.tenant, wait, &timer); err != nil {
		<-p.sem
		if err == errBusy {
			err = errTenantBusy
		}
		return nil, err
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1].inst
		p.idle[n-1] = idle{}
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	inst, err := p.newInstance(context.Background())
	if err != nil {
		p.release()
		return nil, err
	}
	return inst, nil
}

// acquire takes a token of sem, waiting until *timer fires; it starts the
// timer (wait) on the first wait.
func acquire(ctx context.Context, sem chan struct{}, wait time.Duration, timer **time.Timer) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	if *timer == nil {
		*timer = time.NewTimer(wait)
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-(*timer).C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pool) release() {
	<-p.sem
	<-p.tenant
}

// put gives inst back. A broken instance (one that trapped, exited, was
// stopped, or may hold a half-finished request's state) is closed instead.
func (p *pool) put(inst *instance, broken bool) {
	p.mu.Lock()
	if broken || p.closed || inst.from != nil && inst.from.superseded.Load() {
		p.mu.Unlock()
		inst.close()
	} else {
		p.idle = append(p.idle, idle{inst, time.Now()})
		p.mu.Unlock()
	}
	p.release()
}

// evict closes the instances idle since before t.
func (p *pool) evict(t time.Time) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && p.idle[n].since.Before(t) {
		n++
	}
	old := slices.Clone(p.idle[:n])
	p.idle = slices.Delete(p.idle, 0, n)
	p.mu.Unlock()
	for _, it := range old {
		it.inst.close()
	}
}

// drop closes the idle instances of c; those in use are closed when put,
// once c is superseded.
func (p *pool) drop(c *compiled) {
	p.mu.Lock()
	var old []*instance
	p.idle = slices.DeleteFunc(p.idle, func(it idle) bool {
		if it.inst.from == c {
			old = append(old, it.inst)
			return true
		}
		return false
	})
	p.mu.Unlock()
	for _, inst := range old {
		inst.close()
	}
}

// close closes the idle instances; instances in use are closed when put.
func (p *pool) close() {
	p.mu.Lock()
	old := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, it := range old {
		it.inst.close()
	}
}
