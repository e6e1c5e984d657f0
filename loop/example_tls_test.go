package loop_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"

	"github.com/iomux/iomux/internal/devcert"
	"github.com/iomux/iomux/loop"
)

// ExampleServer_ListenTLS serves the echo Handler over TLS: the handler is
// the same as on plain TCP, and reads and writes plaintext. (The pair here
// is made on the spot; a server loads its own with tls.LoadX509KeyPair,
// or `iomux cert` writes one for development.)
func ExampleServer_ListenTLS() {
	cert, pool, err := devcert.Pair("localhost")
	if err != nil {
		fmt.Println(err)
		return
	}
	s := loop.NewServer(echo{}, loop.Options{Loops: 2})
	s.ListenTLS("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop(context.Background())

	c, err := tls.Dial("tcp", s.Addrs()[0].String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write([]byte("This is the message. "))
	reply := make([]byte, 21)
	io.ReadFull(c, reply)
	fmt.Printf("%q over %s\n", reply, tls.VersionName(c.ConnectionState().Version))
	// Output: "This is the message. " over TLS 1.3
}
