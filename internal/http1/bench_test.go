package http1

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

var benchHeads = []struct{ name, head string }{
	{"wrk", "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive\r\n\r\n"},
	{"browser", "GET /index.html?q=1 HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Connection: keep-alive\r\n" +
		"Upgrade-Insecure-Requests: 1\r\n" +
		"Sec-Fetch-Dest: document\r\n" +
		"Sec-Fetch-Mode: navigate\r\n" +
		"Cookie: session=0123456789abcdef; theme=dark\r\n\r\n"},
}

// BenchmarkParseRequest measures HeadEnd and ParseRequest on a wrk-style
// GET and a browser's, beside http.ReadRequest on the same bytes.
func BenchmarkParseRequest(b *testing.B) {
	for _, h := range benchHeads {
		head := []byte(h.head)
		b.Run(h.name+"/http1", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(head)))
			for b.Loop() {
				end, _ := HeadEnd(head, 0)
				if _, _, err := ParseRequest(head[:end], Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(h.name+"/ReadRequest", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(head)))
			rd := bytes.NewReader(head)
			br := bufio.NewReader(rd)
			for b.Loop() {
				rd.Reset(head)
				br.Reset(rd)
				if _, err := http.ReadRequest(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChunkedDecode measures a chunked body of 16 chunks of 1 KiB.
func BenchmarkChunkedDecode(b *testing.B) {
	in := []byte(strings.Repeat("400;ext=1\r\n"+strings.Repeat("d", 1024)+"\r\n", 16) + "0\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	var d BodyDecoder
	for b.Loop() {
		d.Reset(Framing{ContentLength: -1, Chunked: true}, Limits{})
		for rest := in; ; {
			n, _, done, err := d.Decode(rest)
			if err != nil {
				b.Fatal(err)
			}
			if done {
				break
			}
			rest = rest[n:]
		}
	}
}
