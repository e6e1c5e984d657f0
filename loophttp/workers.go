package loophttp

import (
	"sync"
	"time"
)

// Handlers run on a pool of goroutines: a connection with requests is
// handed to an idle worker if one waits, else to a new goroutine, and a
// worker done with a connection waits a while for the next. A goroutine
// per request would grow a fresh stack for every handler (runtime.newstack
// was a fifth of the CPU of a keep-alive plaintext benchmark); an idle
// connection still holds none.
type workers struct {
	work    chan *conn    // an idle worker receives here
	quit    chan struct{} // closed when the Server has stopped
	quitOne sync.Once
	mu      sync.Mutex
	idle    int // workers waiting on work
}

const (
	// maxIdleWorkers bounds the goroutines kept waiting for work (about
	// 8 KiB of stack each).
	maxIdleWorkers = 256
	// workerIdle is how long a worker waits for work before it exits.
	workerIdle = 10 * time.Second
)

func (w *workers) init() {
	w.work = make(chan *conn)
	w.quit = make(chan struct{})
}

// serve has cn's requests served.
func (w *workers) serve(cn *conn) {
	select {
	case w.work <- cn:
	default:
		go w.run(cn)
	}
}

func (w *workers) run(cn *conn) {
	var t *time.Timer
	for {
		cn.serve()
		w.mu.Lock()
		if w.idle >= maxIdleWorkers {
			w.mu.Unlock()
			return
		}
		w.idle++
		w.mu.Unlock()
		if t == nil {
			t = time.NewTimer(workerIdle)
		} else {
			t.Reset(workerIdle)
		}
		select {
		case cn = <-w.work:
		case <-t.C:
			cn = nil
		case <-w.quit:
			cn = nil
		}
		w.mu.Lock()
		w.idle--
		w.mu.Unlock()
		if cn == nil {
			t.Stop()
			return
		}
	}
}

// stop makes idle workers exit, and busy ones once their connection is
// served (a handler that never returns keeps its goroutine, as with
// net/http).
func (w *workers) stop() {
	w.quitOne.Do(func() { close(w.quit) })
}
