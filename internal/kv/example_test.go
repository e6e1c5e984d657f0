package kv_test

import (
	"fmt"

	"github.com/iomux/iomux/internal/kv"
	"github.com/iomux/iomux/internal/resp"
)

// A server's loop in miniature: parse each command of a pipelined batch
// out of the read buffer, run it on the client's Session, append the
// replies to one buffer, and send that with one write.
func ExampleSession() {
	store := kv.NewStore()
	sess := store.NewSession()
	defer sess.Close()
	in := []byte("SET greeting hello\r\n*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\nINCR greeting\r\nLPUSH greeting x\r\n")
	var p resp.Parser
	var out []byte
	for len(in) > 0 {
		args, n, err := p.Parse(in)
		if err != nil || n == 0 {
			break
		}
		out = sess.Exec(out, args)
		in = in[n:]
	}
	fmt.Printf("%q\n", out)
	// Output:
	// "+OK\r\n$5\r\nhello\r\n-ERR value is not an integer or out of range\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
}
