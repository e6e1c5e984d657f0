package codec

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// LengthPrefixed splits frames that start with a headerBytes-long (1, 2, 4
// or 8) unsigned length in the given byte order, counting the payload only;
// the frame is the payload. A declared length above max is an error as soon
// as the header arrives, before any of the body is buffered. order is
// ignored for 1-byte headers; max <= 0 is DefaultMaxFrame. At EOF, a frame
// cut short (in its header or its body) is an error wrapping
// io.ErrUnexpectedEOF. Another headerBytes, or a nil order for a header of
// more than a byte, is an error.
func LengthPrefixed(headerBytes int, order binary.ByteOrder, max int) (bufio.SplitFunc, error) {
	if _, err := headerLimit(headerBytes); err != nil {
		return nil, err
	}
	if order == nil && headerBytes > 1 {
		return nil, errors.New("codec: LengthPrefixed with a nil byte order")
	}
	return lengthPrefixed{header: headerBytes, order: order, max: orDefault(max)}.split, nil
}

type lengthPrefixed struct {
	header int
	order  binary.ByteOrder
	max    int
}

func (s lengthPrefixed) split(buf []byte, atEOF bool) (int, []byte, error) {
	if len(buf) < s.header {
		if atEOF && len(buf) > 0 {
			return 0, nil, cutShort(len(buf), s.header)
		}
		return 0, nil, nil
	}
	var size uint64
	switch s.header {
	case 1:
		size = uint64(buf[0])
	case 2:
		size = uint64(s.order.Uint16(buf))
	case 4:
		size = uint64(s.order.Uint32(buf))
	default:
		size = s.order.Uint64(buf)
	}
	if size > uint64(s.max) {
		return 0, nil, fmt.Errorf("%w: header declares %d bytes, limit %d",
			ErrFrameTooLarge, size, s.max)
	}
	body := buf[s.header:]
	if uint64(len(body)) < size {
		if atEOF {
			return 0, nil, cutShort(len(buf), s.header+int(size))
		}
		return 0, nil, nil
	}
	return s.header + int(size), body[:size:size], nil
}

// AppendLengthPrefixed appends payload to dst behind a headerBytes-long
// (1, 2, 4 or 8) length header in the given byte order, the frame
// LengthPrefixed splits. A payload too long for the header is an
// ErrFrameTooLarge; dst is then returned unchanged. order is ignored for
// 1-byte headers.
func AppendLengthPrefixed(dst []byte, headerBytes int, order binary.ByteOrder, payload []byte) ([]byte, error) {
	limit, err := headerLimit(headerBytes)
	if err != nil {
		return dst, err
	}
	if order == nil && headerBytes > 1 {
		return dst, errors.New("codec: AppendLengthPrefixed with a nil byte order")
	}
	if uint64(len(payload)) > limit {
		return dst, fmt.Errorf("%w: %d bytes, limit %d for a %d-byte header",
			ErrFrameTooLarge, len(payload), limit, headerBytes)
	}
	n := len(dst)
	dst = slices.Grow(dst, headerBytes+len(payload))[:n+headerBytes]
	switch headerBytes {
	case 1:
		dst[n] = byte(len(payload))
	case 2:
		order.PutUint16(dst[n:], uint16(len(payload)))
	case 4:
		order.PutUint32(dst[n:], uint32(len(payload)))
	default:
		order.PutUint64(dst[n:], uint64(len(payload)))
	}
	return append(dst, payload...), nil
}

// headerLimit returns the largest length a header of that many bytes holds.
func headerLimit(headerBytes int) (uint64, error) {
	switch headerBytes {
	case 1:
		return math.MaxUint8, nil
	case 2:
		return math.MaxUint16, nil
	case 4:
		return math.MaxUint32, nil
	case 8:
		return math.MaxUint64, nil
	}
	return 0, fmt.Errorf("codec: length header of %d bytes: must be 1, 2, 4 or 8", headerBytes)
}
