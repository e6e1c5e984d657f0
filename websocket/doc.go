// Package websocket is the WebSocket protocol (RFC 6455) and its
// permessage-deflate extension (RFC 7692) on the event loop (package
// loop), with no goroutine per connection: a server upgrades from a
// loophttp handler (Upgrade) or reads the handshake on a plain loop
// server (ServeLoop); a client connects with Dial (ws:// and wss://). A
// Handler gets OnOpen, OnMessage (whole messages; a StreamHandler takes
// them piece by piece) and OnClose on the connection's loop; a Conn
// writes text, binary, pings and a Close there, and from any goroutine
// with AsyncWrite (refused with loop.ErrQueueFull at the loop's HighWater)
// and Broadcast (one Prepared frame shared by every connection). The
// close handshake, keepalive (Options.PingInterval, PongTimeout) and every
// limit are the package's; an idle connection holds no buffer, no reader
// and no timer of its own: its Conn, 96 bytes, beside the loop's
// connection (BenchmarkIdleMemory).
//
//	type echo struct{ websocket.BaseHandler }
//
//	func (echo) OnMessage(c *websocket.Conn, m websocket.Message) { c.WriteMessage(m.Opcode, m.Data) }
//
//	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
//		websocket.Upgrade(w, r, echo{}, nil) // the connection is echo's once the handler returns
//	})
//	loophttp.ListenAndServe(":8080", nil)
//
// Underneath is the protocol without I/O, for any loop: what an event
// loop needs to speak WebSocket from bytes as they arrive.
//
//   - FrameReader reads frames from input cut anywhere and enforces every
//     framing rule from the header, before the payload arrives; payloads
//     are slices of the caller's input, unmasked in place.
//   - MessageReader reassembles messages up to a limit (or passes them on
//     piece by piece), checks text as UTF-8 as it arrives (failing on the
//     first bad byte, even mid-message), inflates compressed messages and
//     checks close frames.
//   - FrameWriter and AppendFrame write frames; Prepared frames a message
//     once for a broadcast to many connections.
//   - CheckRequest, AcceptKey, ResponseHeader, AppendResponse, NewKey and
//     CheckResponse are the opening handshake; ParseDeflateOffers,
//     NegotiateDeflate and AcceptDeflateResponse negotiate compression.
//
// Text is checked as UTF-8 piece by piece, so an invalid message fails at
// the first bad byte even if its end never comes; a compressed message is
// inflated, and its text checked, once all its frames are in
// (compress/flate inflates whole streams, not pieces pushed to it). A
// length not in its shortest encoding is accepted.
//
// A fault of the peer is a *CloseError: the code to close with (1002 for
// a protocol error, 1007 for bad UTF-8 or deflate data, 1009 for a message
// too big) and a reason.
//
// # Limits
//
//	limit                      default   checked
//	FrameReader.MaxFrame       16 MiB    from the frame header, before its payload
//	FrameReader.MaxMessage     16 MiB    from each header, against the message so far;
//	                                     for a compressed message, on its inflated
//	                                     size too, inflation stopping at the limit
//	control frame payload      125 B     RFC 6455, from the header
//
// # Compression's memory
//
// Measured with Go 1.26 (TestCompressorMemory): a flate.Writer costs
// about 800 KiB (1.2 MiB at BestSpeed, 730 KiB Huffman-only); a
// flate.Reader about 40 KiB. Per-connection compressors would make a
// million connections cost a terabyte, so by default a server keeps no
// compression state per connection at all: it answers
// server_no_context_takeover and client_no_context_takeover, compresses
// each message with a pooled flate.Writer and inflates with a pooled
// flate.Reader (so compressors exist only while a message is being
// compressed: at most one per goroutine compressing), and a broadcast is
// compressed once for every connection (Prepared). A server that lets
// clients keep their context (DeflateConfig.ClientContextTakeover) keeps
// each such client's window, the last 2^client_max_window_bits bytes of
// its text (32 KiB at most, 512 bytes at least), and hands it to a pooled
// reader as a dictionary per message; it bounds the total by granting
// takeover to a limited count of connections. Server context takeover
// (DeflateConfig.ServerContextTakeover) costs a flate.Writer per
// connection for its life.
//
// Go's compress/flate always compresses with a 32 KiB window, so an offer
// asking the server for server_max_window_bits below 15 is declined, and
// this package's client offer never lets the server ask for a smaller
// client window.
package websocket
