//go:build unix

package iomux_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/iomux/iomux"
	"golang.org/x/sys/unix"
)

// A Selector on the best backend this OS has, watching one end of a
// socketpair: the other end writes, Wait reports it with its data.
func ExampleNewSelector() {
	sel, err := iomux.NewSelector("auto")
	if err != nil {
		panic(err)
	}
	defer sel.Close()

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		panic(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	client, server := fds[0], fds[1]

	if err := sel.Register(server, iomux.Readable, "server end"); err != nil {
		panic(err)
	}
	unix.Write(client, []byte("ping"))

	ready := make([]iomux.Ready, 8) // reused by every Wait
	n, err := sel.Wait(time.Second, ready)
	if err != nil {
		panic(err)
	}
	for _, r := range ready[:n] {
		buf := make([]byte, 64)
		m, _ := unix.Read(r.FD, buf)
		fmt.Printf("%v on the %v: %q\n", r.Events, r.Data, buf[:m])
	}
	// Output: Readable on the server end: "ping"
}

// The Python select tutorials' select() echo server, shrunk to one
// connection (a socketpair): read what arrives, queue it, write it back
// once the socket is writable.
func ExampleSelect() {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		panic(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	client, conn := fds[0], fds[1]

	inputs, outputs := []int{conn}, []int{}
	var queue []byte
	buf := make([]byte, 1024)
	for _, msg := range []string{"This is the message.", "It will be sent", "in parts."} {
		unix.Write(client, []byte(msg))
		for echoed := false; !echoed; {
			readable, writable, _, err := iomux.Select(inputs, outputs, inputs, time.Second)
			if err != nil {
				panic(err)
			}
			for range readable {
				n, _ := unix.Read(conn, buf)
				fmt.Printf("received %q\n", buf[:n])
				queue = append(queue, buf[:n]...)
				outputs = []int{conn}
			}
			for range writable {
				n, _ := unix.Write(conn, queue)
				fmt.Printf("sending %q\n", queue[:n])
				queue = queue[n:]
				if len(queue) == 0 {
					outputs = slices.Delete(outputs, 0, 1)
					echoed = true
				}
			}
		}
		n, _ := unix.Read(client, buf)
		fmt.Printf("client got %q\n", buf[:n])
	}
	// Output:
	// received "This is the message."
	// sending "This is the message."
	// client got "This is the message."
	// received "It will be sent"
	// sending "It will be sent"
	// client got "It will be sent"
	// received "in parts."
	// sending "in parts."
	// client got "in parts."
}
