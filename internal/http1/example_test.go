package http1_test

import (
	"fmt"
	"strings"

	"github.com/iomux/iomux/internal/http1"
)

// A server on a loop appends what arrives to its input, finds the head,
// parses it, and delimits the body; what is left is the next request.
func Example() {
	in := []byte("POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n")
	end, _ := http1.HeadEnd(in, 0)
	r, f, err := http1.ParseRequest(in[:end], http1.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Method, r.URL.Path, r.Host, f.Chunked)
	in = in[end:]

	var d http1.BodyDecoder
	d.Reset(f, http1.Limits{})
	for {
		n, data, done, err := d.Decode(in)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%q", data)
		in = in[n:]
		if done {
			break
		}
	}
	fmt.Printf("\nnext: %q\n", in)

	_, _, err = http1.ParseRequest([]byte("GET / HTTP/1.1\r\n\r\n"), http1.Limits{})
	fmt.Println(strings.ReplaceAll(string(err.(*http1.Error).AppendResponse(nil)), "\r\n", "\n"))
	// Output:
	// POST /upload example.com true
	// "hello"""
	// next: "GET / HTTP/1.1\r\n"
	// HTTP/1.1 400 Bad Request: missing required Host header
	// Content-Type: text/plain; charset=utf-8
	// Connection: close
	//
	// 400 Bad Request: missing required Host header
}
