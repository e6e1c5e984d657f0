package codec_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"log"
	"strconv"
	"strings"

	"github.com/iomux/iomux/codec"
)

// Lines over two reads, as an OnData handler sees them: the half line of
// the first read stays buffered until the second completes it.
func Example() {
	frames := codec.Lines(4096)
	var buffered []byte // what a loop connection keeps between reads
	for _, read := range []string{"HELO example.org\r\nMAIL FR", "OM:<a@b>\r\n\r\n"} {
		buffered = append(buffered, read...)
		n, err := codec.Each(frames, buffered, func(line []byte) error {
			fmt.Printf("%q\n", line)
			return nil
		})
		buffered = buffered[n:] // c.Discard(n)
		if err != nil {
			fmt.Println(err)
		}
		fmt.Printf("left buffered: %q\n", buffered)
	}
	// Output:
	// "HELO example.org"
	// left buffered: "MAIL FR"
	// "MAIL FROM:<a@b>"
	// ""
	// left buffered: ""
}

// Lines with a bufio.Scanner: the framers are bufio.SplitFuncs. At the end
// of the stream, a last line without its "\n" is a line too; a line past
// the limit stops the Scanner with ErrFrameTooLarge.
func ExampleLines_scanner() {
	sc := bufio.NewScanner(strings.NewReader("HELO example.org\r\nMAIL FROM:<a@b>\r\nQUIT"))
	sc.Split(codec.Lines(64))
	for sc.Scan() {
		fmt.Printf("%q\n", sc.Text())
	}
	fmt.Println(sc.Err())

	sc = bufio.NewScanner(strings.NewReader("short\n" + strings.Repeat("x", 100) + "\n"))
	sc.Split(codec.Lines(64))
	for sc.Scan() {
		fmt.Printf("%q\n", sc.Text())
	}
	fmt.Println(sc.Err())
	// Output:
	// "HELO example.org"
	// "MAIL FROM:<a@b>"
	// "QUIT"
	// <nil>
	// "short"
	// codec: frame too large: 101 bytes buffered without a terminator, limit 64
}

func ExampleLengthPrefixed() {
	var wire []byte
	for _, msg := range []string{"ping", "", "pong"} {
		wire, _ = codec.AppendLengthPrefixed(wire, 2, binary.BigEndian, []byte(msg))
	}
	fmt.Printf("wire: %q\n", wire)

	frames, err := codec.LengthPrefixed(2, binary.BigEndian, 1024)
	if err != nil {
		log.Fatal(err)
	}
	n, err := codec.Each(frames, wire, func(msg []byte) error {
		fmt.Printf("%q\n", msg)
		return nil
	})
	fmt.Println(n, err)

	// A header declaring more than the limit fails before the body arrives.
	_, _, err = frames([]byte{0xff, 0xff}, false)
	fmt.Println(err)
	// Output:
	// wire: "\x00\x04ping\x00\x00\x00\x04pong"
	// "ping"
	// ""
	// "pong"
	// 14 <nil>
	// codec: frame too large: header declares 65535 bytes, limit 1024
}

// Switching terminators mid-stream, as asynchat's set_terminator does: a
// header line gives the body's size, Fixed reads exactly that many bytes,
// then lines again. The callback stops Each whenever the framing changes.
func ExampleErrStop() {
	stream := []byte("SIZE 5\r\nhelloQUIT\r\n")
	lines := codec.Lines(64)
	frames, inBody := lines, false
	for {
		n, err := codec.Each(frames, stream, func(f []byte) error {
			if inBody {
				fmt.Printf("body %q\n", f)
				frames, inBody = lines, false
				return codec.ErrStop
			}
			fmt.Printf("line %q\n", f)
			if size, ok := sizeHeader(f); ok {
				body, err := codec.Fixed(size)
				if err != nil {
					return err
				}
				frames, inBody = body, true
				return codec.ErrStop
			}
			return nil
		})
		stream = stream[n:] // c.Discard(n)
		if err != nil || n == 0 {
			break
		}
	}
	// Output:
	// line "SIZE 5"
	// body "hello"
	// line "QUIT"
}

// sizeHeader parses "SIZE n", refusing sizes a peer could use to make the
// connection buffer grow without bound.
func sizeHeader(line []byte) (int, bool) {
	size, ok := strings.CutPrefix(string(line), "SIZE ")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(size)
	return n, err == nil && n > 0 && n <= 1<<20
}
