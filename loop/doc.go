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
// TCP, Unix and UDP listeners (UDP through PacketHandler); Dial, with a
// context; graceful Stop; counters (Stats, AllStats); an event stream for
// tracing (Options.Observe); and a Transport seam between socket and
// handler, with handshakes (Handshaker), on which TLS is built with the
// standard library's crypto/tls (ListenTLS, TLSClient: the handshake on a
// bounded pool of goroutines, then none per connection).
//
// A connection's life is one state: accepted or connecting, handshaking
// (with a Handshaker Transport), open (OnOpen ran, OnClose will),
// closing (Close waits for its queue), closed. The Handler is three
// methods; what fewer handlers need are optional interfaces (see Handler).
//
// Errors read as Go's own do: what was being done, then the cause, the
// wrapped error last ("dial tcp 127.0.0.1:9: connect: connection
// refused"); only the package's own errors (ErrClosed and the others, and
// those with no cause) begin with "loop: ", so none says it twice.
//
// Concurrency: Handler methods, timers and posted functions of one loop run
// on that loop's goroutine, one at a time; Conn methods are for that
// goroutine, except AsyncWrite, AsyncWriteFunc, AsyncClose and
// AsyncOnData. No Handler method runs inside another's Conn call: an
// OnPause a Write causes, an OnClose a CloseNow or a failed Write causes,
// run once the current callback returns (see Handler); the state changes
// at once (Closed, Congested), and a Write to a closed connection returns
// ErrClosed.
//
// # Flow control
//
// Every queue has a bound with a default (Options states the one rule for
// them all), and each says what happens past it:
//   - Output: once a connection's queue passes Options.HighWater (1 MiB)
//     it is Congested (OnPause) until it drains below LowWater (OnResume),
//     and its producer is not read meanwhile: the connection itself (a
//     client that sends faster than it reads is slowed), or, in a relay,
//     the connection SetSource names, while the congested one is read on
//     (ExampleConn_SetSource). HighWater pauses reads; it does not refuse
//     writes. A Write from a handler is always queued, so a producer
//     writing to other connections (a broadcast) checks Congested or
//     Outbound, or waits for OnResume. Options.MaxQueued (64 MiB) bounds
//     what the whole Server queues the same way, and Options.WriteTimeout
//     (2 min) closes a connection whose queue makes no progress. When the
//     loop reads a connection again, OnData runs for what it had buffered.
//   - Input: once Options.MaxInput (1 MiB) is buffered unconsumed, the
//     loop stops reading the connection until the handler consumes; a
//     frame must fit in it. Conn.PauseRead stops reading by hand.
//   - From other goroutines: AsyncWrite fails with ErrQueueFull while the
//     connection's backlog is at HighWater; AsyncWriteFunc calls back
//     when its bytes are written (or with no bytes: when the queue is
//     sent), so a producer waits for that (ExampleConn_AsyncWriteFunc). Post (and AsyncWrite) fail with
//     ErrQueueFull while Options.MaxPosts (65536) functions wait. Stats
//     count the queued bytes, waiting functions and refusals, also per
//     loop (Loop.Stats).
//
// # Buffers
//
// Write and Writev copy what the socket does not take at once: the caller
// may reuse its buffer as soon as they return. AsyncWrite reads its buffer
// later, on the loop: it must not change until written (AsyncWriteFunc's
// callback says when), but one buffer may be given to many connections,
// as a broadcast does. What Peek and Next return, and OnData's input, is
// valid only until the handler returns: copy what you keep.
//
// # Broadcast across loops
//
// Keep each loop's subscribers in per-loop state (OnLoopStart,
// Loop.SetContext), Post one shared, unchanging copy of a message to each
// loop, and have each loop Write it to its own subscribers; hold the
// publisher (PauseRead) until every loop says its subscribers' queues are
// below HighWater again. ExampleLoop_Post is the recipe, with a
// publisher that floods 200 subscribers in its test (TestPubSubFlood).
//
// # Clients
//
// Server.Dial and DialAsync connect from a loop (a Server with no Listen
// address serves only those), within a context, plain or through a
// Transport (DialOptions.Transport: TLSClient for TLS), on a loop the
// Server picks or the one asked for (DialOptions.Loop); the same Handler
// gets their events. DialAsync's callback runs on the connection's loop
// after OnOpen and before the first OnData, so per-connection state set
// there (SetContext) is in place for the first reply
// (ExampleServer_DialAsync).
package loop
