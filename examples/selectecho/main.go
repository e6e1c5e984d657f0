// Command selectecho is the Python select tutorials' select() echo server
// (select_echo_server.py), written line by line against iomux.Select, the
// Python-shaped call: three lists of descriptors in, three lists of ready
// ones out. It shows the raw readiness API; `iomux echo-server` is the same
// server on the event loop.
//
// The socket calls (socket, bind, listen, accept, recv, send) go through
// iomux's internal socket package, as they do everywhere in the project;
// in a program of your own, golang.org/x/sys/unix has the same calls.
//
//	go run ./examples/selectecho                  # localhost:10000, blocks in select
//	go run ./examples/selectecho -timeout 1s      # select_echo_server_timeout.py
//	go run ./cmd/iomux echo-client                # in another window
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

func main() {
	addr := flag.String("addr", "localhost:10000", "address to listen on (port 0 picks a free one)")
	timeout := flag.Duration("timeout", -1, "wake from select this often to \"do some other work\" (negative: never)")
	flag.Parse()
	if err := serve(*addr, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "selectecho:", err)
		os.Exit(1)
	}
}

func serve(addr string, timeout time.Duration) error {
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

	// Sockets from which we expect to read
	inputs := []int{server}

	// Sockets to which we expect to write
	var outputs []int

	// Outgoing message queues (socket: queue), and each client's address
	messageQueues := map[int][][]byte{}
	peers := map[int]string{}

	closeClient := func(s int) {
		// Stop listening for input on the connection
		outputs = slices.DeleteFunc(outputs, func(fd int) bool { return fd == s })
		inputs = slices.DeleteFunc(inputs, func(fd int) bool { return fd == s })
		sock.Close(s)
		// Remove message queue
		delete(messageQueues, s)
		delete(peers, s)
	}

	for len(inputs) > 0 {
		// Wait for at least one of the sockets to be ready for processing
		fmt.Fprintln(os.Stderr, "\nwaiting for the next event")
		readable, writable, exceptional, err := iomux.Select(inputs, outputs, inputs, timeout)
		if err != nil {
			return err
		}
		if len(readable)+len(writable)+len(exceptional) == 0 {
			fmt.Fprintln(os.Stderr, "  timed out, do some other work here")
			continue
		}

		// Handle inputs
		for _, s := range readable {
			if s == server {
				// A "readable" server socket is ready to accept a connection
				connection, clientAddress, err := sock.Accept(server)
				if err != nil {
					continue // the client left before we got to it
				}
				peers[connection] = clientAddress.Addr().String()
				fmt.Fprintln(os.Stderr, "new connection from", peers[connection])
				inputs = append(inputs, connection)

				// Give the connection a queue for data we want to send
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
				if !slices.Contains(outputs, s) {
					outputs = append(outputs, s)
				}
			} else {
				// Interpret empty result (or an error) as closed connection
				fmt.Fprintln(os.Stderr, "closing", peers[s], "after reading no data")
				closeClient(s)
			}
		}

		// Handle outputs
		for _, s := range writable {
			queue, open := messageQueues[s]
			if !open {
				continue // closed above
			}
			if len(queue) == 0 {
				// No messages waiting so stop checking for writability.
				fmt.Fprintln(os.Stderr, "output queue for", peers[s], "is empty")
				outputs = slices.DeleteFunc(outputs, func(fd int) bool { return fd == s })
				continue
			}
			nextMsg := queue[0]
			fmt.Fprintf(os.Stderr, "sending %q to %s\n", nextMsg, peers[s])
			n, err := sock.Write(s, nextMsg)
			switch {
			case sock.WouldBlock(err):
			case err != nil:
				closeClient(s) // the read side will not tell us: it is gone
			case n < len(nextMsg):
				queue[0] = nextMsg[n:] // the rest goes next time
			default:
				messageQueues[s] = queue[1:]
			}
		}

		// Handle "exceptional conditions"
		for _, s := range exceptional {
			if _, open := messageQueues[s]; !open {
				continue
			}
			fmt.Fprintln(os.Stderr, "handling exceptional condition for", peers[s])
			closeClient(s)
		}
	}
	return nil
}
