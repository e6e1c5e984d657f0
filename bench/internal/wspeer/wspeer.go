// Package wspeer is the protocol bench/wsload speaks to the WebSocket
// peers (bench/peers/ws*), and what they share to serve it.
//
// The protocol, over HTTP/1.1 (HTTPS with --tls-cert and --tls-key):
//
//   - GET /ws upgrades to WebSocket and echoes every message as it came,
//     text as text and binary as binary. permessage-deflate is accepted
//     when the client offers it, each library in its mode that keeps no
//     compression context per connection (iomux's default, gorilla's
//     only one).
//   - POST /broadcast sends its body, as one binary message, to every
//     WebSocket connection open at the time, and answers 200 with their
//     number (decimal text) once it has written or queued the message on
//     each, as the library's broadcast does. The body is at most
//     MaxBroadcast bytes.
//
// Their command line is bench/peers/internal/peerargs's:
// [--tls-cert FILE --tls-key FILE] HOST:PORT.
package wspeer

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// The protocol's paths and its bound on a broadcast.
const (
	EchoPath      = "/ws"
	BroadcastPath = "/broadcast"
	MaxBroadcast  = 1 << 20 // bytes
)

// Conns is the set of a peer's open WebSocket connections, safe for
// concurrent use.
type Conns[T comparable] struct {
	mu  sync.Mutex
	set map[T]struct{}
}

// Add puts c in the set.
func (s *Conns[T]) Add(c T) {
	s.mu.Lock()
	if s.set == nil {
		s.set = map[T]struct{}{}
	}
	s.set[c] = struct{}{}
	s.mu.Unlock()
}

// Remove takes c out of the set.
func (s *Conns[T]) Remove(c T) {
	s.mu.Lock()
	delete(s.set, c)
	s.mu.Unlock()
}

// All returns the connections in the set now.
func (s *Conns[T]) All() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]T, 0, len(s.set))
	for c := range s.set {
		all = append(all, c)
	}
	return all
}

// Mux serves ws at EchoPath and POST BroadcastPath with broadcast, which sends
// its argument to every open connection and returns their number.
func Mux(ws http.HandlerFunc, broadcast func(msg []byte) int) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc(EchoPath, ws)
	mux.HandleFunc("POST "+BroadcastPath, func(w http.ResponseWriter, r *http.Request) {
		msg, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBroadcast))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		n := broadcast(msg)
		io.WriteString(w, strconv.Itoa(n))
	})
	return mux
}

// Serve serves h on a net/http.Server at addr, with TLS (ServeTLS) when
// certFile is set: the peers that run on net/http. It returns only with
// an error.
func Serve(addr, certFile, keyFile string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	if certFile != "" {
		return srv.ServeTLS(ln, certFile, keyFile)
	}
	return srv.Serve(ln)
}
