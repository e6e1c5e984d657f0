// Command pollecho is the Python select tutorials' poll() echo server
// (select_poll_echo_server.py), written line by line against an
// iomux.Selector on the poll backend: register each socket with the events
// it wants, modify them as its queue fills and empties, wait with a
// timeout. It shows the raw readiness API; `iomux echo-server --backend
// poll` is the same server on the event loop.
//
// The socket calls (socket, bind, listen, accept, recv, send) go through
// iomux's internal socket package, as they do everywhere in the project;
// in a program of your own, golang.org/x/sys/unix has the same calls.
//
//	go run ./examples/pollecho            # localhost:10000
//	go run ./cmd/iomux echo-client        # in another window
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// Commonly used flag sets. Unlike poll(2), a Selector always reports Hangup
// and Error without being asked, so READ_ONLY needs only these two.
const (
	readOnly  = iomux.Readable | iomux.Priority
	readWrite = readOnly | iomux.Writable
)

func main() {
	addr := flag.String("addr", "localhost:10000", "address to listen on (port 0 picks a free one)")
	backend := flag.String("backend", "poll", "the Selector backend: poll, like the tutorial, or "+fmt.Sprint(iomux.Backends()))
	flag.Parse()
	if err := serve(*addr, *backend); err != nil {
		fmt.Fprintln(os.Stderr, "pollecho:", err)
		os.Exit(1)
	}
}

func serve(addr, backend string) error {
	// Create a TCP/IP socket (non-blocking)
	endpoint, err := sock.Resolve("tcp4", addr)
	if err != nil {
		return err
	}
	server, err := sock.Open(endpoint)
	if err != nil {
		return err
	}
	defer sock.Close(server)
	sock.SetReuseAddr(server)

	// Bind the socket to the port
	if err := sock.Bind(server, endpoint); err != nil {
		return fmt.Errorf("bind %s: %w", addr, err)
	}

	// Listen for incoming connections
	if err := sock.Listen(server, 5); err != nil {
		return err
	}
	bound, _ := sock.Bound(server, endpoint)
	host, port, _ := net.SplitHostPort(bound.Addr().String())
	fmt.Fprintf(os.Stderr, "starting up on %s port %s\n", host, port)

	// Keep up with the queues of outgoing messages, and each client's address
	messageQueues := map[int][][]byte{}
	peers := map[int]string{}

	// Do not block forever
	const timeout = 1000 * time.Millisecond

	// Set up the poller
	poller, err := iomux.NewSelector(backend)
	if err != nil {
		return err
	}
	defer poller.Close()
	if err := poller.Register(server, readOnly, nil); err != nil {
		return err
	}

	closeClient := func(s int) {
		// Stop listening for input on the connection
		poller.Unregister(s)
		sock.Close(s)
		// Remove message queue
		delete(messageQueues, s)
		delete(peers, s)
	}

	events := make([]iomux.Ready, 64)
	for {
		// Wait for at least one of the sockets to be ready for processing
		fmt.Fprintln(os.Stderr, "\nwaiting for the next event")
		n, err := poller.Wait(timeout, events)
		if err != nil {
			return err
		}

		for _, event := range events[:n] {
			// A Selector hands back the descriptor itself: no fd_to_socket map
			s, ev := event.FD, event.Events

			switch {
			// Handle inputs
			case ev&(iomux.Readable|iomux.Priority) != 0:
				if s == server {
					// A readable server socket is ready to accept a connection
					connection, clientAddress, err := sock.Accept(server)
					if err != nil {
						continue // the client left before we got to it
					}
					peers[connection] = clientAddress.Addr().String()
					fmt.Fprintln(os.Stderr, "new connection from", peers[connection])
					if err := poller.Register(connection, readOnly, nil); err != nil {
						return err
					}

					// Give the connection a queue for data to send
					messageQueues[connection] = nil
					continue
				}
				data := make([]byte, 1024)
				n, err := sock.Read(s, data)
				if sock.WouldBlock(err) {
					continue
				}
				if n > 0 {
					// A readable client socket has data
					fmt.Fprintf(os.Stderr, "received %q from %s\n", data[:n], peers[s])
					messageQueues[s] = append(messageQueues[s], data[:n])
					// Add output channel for response
					poller.Modify(s, readWrite, nil)
				} else {
					// Interpret empty result (or an error) as closed connection
					fmt.Fprintln(os.Stderr, "closing", peers[s], "after reading no data")
					closeClient(s)
				}

			case ev&iomux.Hangup != 0:
				// Client hung up
				fmt.Fprintln(os.Stderr, "closing", peers[s], "(HUP)")
				closeClient(s)

			case ev&iomux.Writable != 0:
				// Socket is ready to send data, if there is any to send.
				queue := messageQueues[s]
				if len(queue) == 0 {
					// No messages waiting so stop checking
					fmt.Fprintln(os.Stderr, "output queue for", peers[s], "is empty")
					poller.Modify(s, readOnly, nil)
					continue
				}
				nextMsg := queue[0]
				fmt.Fprintf(os.Stderr, "sending %q to %s\n", nextMsg, peers[s])
				n, err := sock.Write(s, nextMsg)
				switch {
				case sock.WouldBlock(err):
				case err != nil:
					closeClient(s)
				case n < len(nextMsg):
					queue[0] = nextMsg[n:] // the rest goes next time
				default:
					messageQueues[s] = queue[1:]
				}

			case ev&iomux.Error != 0:
				fmt.Fprintln(os.Stderr, "handling exceptional condition for", peers[s])
				closeClient(s)
			}
		}
	}
}
