package ticket

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// createTemp creates a new file in dir named prefix and a random number, for reading and
// writing, with storeFileMode, as os.CreateTemp does, but opened with openNoPoll.
func createTemp(dir, prefix string) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := openNoPoll(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, storeFileMode)
		if errors.Is(err, fs.ErrExist) && try < 10000 {
			continue
		}
		return f, err
	}
}
