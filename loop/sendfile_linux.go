package loop

import (
	"os"

	"github.com/iomux/iomux/internal/sock"
)

const sendFileWorks = true

func sendFile(to int, f *os.File, off *int64, n int) (int, error) {
	return sock.SendFile(to, int(f.Fd()), off, n)
}
