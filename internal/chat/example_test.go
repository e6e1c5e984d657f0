package chat_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net"
	"strings"

	"github.com/iomux/iomux/internal/chat"
	"github.com/iomux/iomux/loop"
)

// A room on one server: alice and bob join, take names, and talk.
func Example() {
	srv, err := chat.NewServer(chat.Config{}, loop.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close() // after Stop
	if err := srv.Listen("tcp", "127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer srv.Stop(context.Background())
	addr := srv.Addrs()[0].String()

	alice, bob := connect(addr), connect(addr)
	alice.say("/nick alice")
	alice.skipTo("* you are now alice")
	bob.say("/nick bob")
	bob.skipTo("* you are now bob")
	alice.say("hello, bob")
	fmt.Println(bob.next())
	bob.say("/who")
	fmt.Println(bob.next())
	// Output:
	// [alice] hello, bob
	// * 2 in the room: [alice] [bob]
}

// member is a connection to the room, read a line at a time.
type member struct {
	conn net.Conn
	in   *bufio.Reader
}

func connect(addr string) *member {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	return &member{conn: c, in: bufio.NewReader(c)}
}

func (m *member) say(line string) { fmt.Fprintf(m.conn, "%s\n", line) }

func (m *member) next() string {
	line, err := m.in.ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	return strings.TrimSuffix(line, "\n")
}

// skipTo reads lines until one starts with prefix.
func (m *member) skipTo(prefix string) {
	for !strings.HasPrefix(m.next(), prefix) {
	}
}
