package websocket_test

import (
	"fmt"

	"github.com/iomux/iomux/websocket"
)

// A server reads what a client sent, in whatever pieces it arrived, and
// answers each message; a broadcast is framed once for every connection.
func Example() {
	// What a client sends: a text message in two fragments with a ping
	// between them, then a close.
	client := websocket.FrameWriter{Role: websocket.Client}
	wire := client.AppendFrame(nil, websocket.OpText, false, []byte("Hello, "))
	wire = client.AppendFrame(wire, websocket.OpPing, true, []byte("are you there?"))
	wire = client.AppendFrame(wire, websocket.OpContinuation, true, []byte("loop!"))
	wire = client.AppendClose(wire, websocket.CloseNormal, "bye")

	var r websocket.MessageReader // a server's, with the default limits
	var server websocket.FrameWriter
	var out, buffered []byte
	for _, piece := range [][]byte{wire[:5], wire[5:30], wire[30:]} { // as the loop hands them over
		buffered = append(buffered, piece...)
		n, err := r.Read(buffered, func(m websocket.Message) error {
			switch m.Opcode {
			case websocket.OpPing:
				out = server.AppendFrame(out, websocket.OpPong, true, m.Data)
			case websocket.OpClose:
				code, reason, _ := websocket.ParseClose(m.Data)
				fmt.Printf("close %d %q\n", code, reason)
				out = server.AppendClose(out, code, "")
			default:
				fmt.Printf("%s %q\n", m.Opcode, m.Data)
				out = server.AppendMessage(out, m.Opcode, m.Data)
			}
			return nil
		})
		if err != nil {
			fmt.Println(err) // answer with err's close code, then close
			return
		}
		buffered = buffered[n:] // the loop keeps what Read left
	}
	fmt.Printf("answered with %d bytes\n", len(out))

	news := websocket.Prepare(websocket.OpText, []byte("to everyone"), 0)
	fmt.Printf("broadcast frame: % x\n", news.Frame(false)[:2])
	// Output:
	// text "Hello, loop!"
	// close 1000 "bye"
	// answered with 34 bytes
	// broadcast frame: 81 0b
}
