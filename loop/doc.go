// Package loop is an event-loop server framework on iomux Selectors: a
// Server runs N loops, each a goroutine locked to an OS thread with its own
// Selector, and calls a Handler for what happens on its connections.
//
// The Python select tutorials' echo server, done properly:
//
//	type echo struct{ loop.BaseHandler }
//
//	func (echo) OnData(c *loop.Conn) { c.Write(c.Next(-1)) }
//
//	func main() {
//		s := loop.NewServer(echo{}, loop.Options{})
//		s.Listen("tcp", "127.0.0.1:10000")
//		if err := s.Start(); err != nil { log.Fatal(err) }
//		<-ctx.Done()
//		s.Stop(context.Background())
//	}
//
// What the loop does for you: reads into a per-loop buffer and shows it to
// OnData without copying (what OnData leaves stays buffered per connection);
// writes straight to the socket and queues only what the socket refuses,
// asking for writability only while something is queued; stops reading a
// connection whose queue passes Options.HighWater (back-pressure); flushes
// queued output before closing, also after the peer's EOF; timers, idle and
// per-connection timeouts; wake-ups from other goroutines (AsyncWrite, Post);
// TCP, Unix and UDP listeners (UDP through PacketHandler); TLS with the
// standard library's crypto/tls (ListenTLS, DialTLS: the handshake on a
// bounded pool of goroutines, then none per connection); Dial; graceful
// Stop; counters (Stats, expvar); an event stream for tracing
// (Options.Observe); a Transport seam between socket and handler.
//
// Concurrency: Handler methods, timers and posted functions of one loop run
// on that loop's goroutine, one at a time; Conn methods are for that
// goroutine, except AsyncWrite, AsyncClose and AsyncOnData.
package loop
