package loophttp

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// reqContext is a request's context: its connection's context, with
// http.LocalAddrContextKey, cancelled when the handler returns or the
// client goes away. It is one part of the request's own allocation where
// context.WithCancel and WithValue would be three, and its Done channel is
// made only if a handler asks for it. It implements AfterFunc, so contexts
// derived from it need no goroutine to follow its cancellation.
type reqContext struct {
	parent context.Context
	local  net.Addr

	mu     sync.Mutex
	done   chan struct{} // made on the first Done
	err    error
	afters []*afterFunc
}

type afterFunc struct {
	fn   func()
	once sync.Once
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *reqContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }

func (c *reqContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			return closedChan
		}
		c.done = make(chan struct{})
	}
	return c.done
}

func (c *reqContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *reqContext) Value(key any) any {
	if key == http.LocalAddrContextKey {
		return c.local
	}
	return c.parent.Value(key)
}

// AfterFunc runs f once the context is cancelled (context.AfterFunc uses
// it, and so do contexts derived from this one).
func (c *reqContext) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{fn: f}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		a.once.Do(func() { go f() })
		return func() bool { return false }
	}
	c.afters = append(c.afters, a)
	c.mu.Unlock()
	return func() bool {
		stopped := false
		a.once.Do(func() { stopped = true })
		return stopped
	}
}

// cancel ends the context (safe to call more than once).
func (c *reqContext) cancel() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for _, a := range afters {
		a.once.Do(func() { go a.fn() })
	}
}

func (c *reqContext) String() string { return "loophttp request context" }
