//go:build !linux

package loop

import (
	"errors"
	"os"
)

const sendFileWorks = false

func sendFile(int, *os.File, *int64, int) (int, error) {
	return 0, errors.ErrUnsupported
}
