package graphs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// The files of a model folder graphs reads, or lets TensorFlow read, must be
// regular files (a symlink to one is followed) within these bounds: a link
// to /dev/zero, a FIFO or a folder in their place is refused before anything
// reads it, and so is a file over its bound. Each bound is far above what
// the full-width VGG19 export holds (`python -m export`, TensorFlow 2.21:
// saved_model.pb 3.2 MB, metadata.json 2.8 kB, variables.index 5.3 kB, its
// one data shard 80 MB).
var modelFiles = []modelFile{
	{"saved_model.pb", 64 << 20, "a model graph"},
	{"fingerprint.pb", 1 << 20, "a fingerprint"},
	{filepath.Join("assets.extra", "metadata.json"), 1 << 20, "the metadata"},
	{filepath.Join("variables", "variables.index"), 16 << 20, "a variables index"},
	{filepath.Join("variables", "variables.data-*"), 2 << 30, "a variables shard"},
}

// modelFile is one file (or, with a *, each file matching it) of a model
// folder, its size bound and what it is.
type modelFile struct {
	name string
	max  int64
	what string
}

// fileBound is the bound for name, a path relative to the model folder.
func fileBound(name string) modelFile {
	for _, f := range modelFiles {
		if ok, _ := filepath.Match(f.name, name); ok {
			return f
		}
	}
	panic("graphs: no bound for " + name) // a bug: every file read is listed
}

// checkFile refuses the file name (relative to dir) unless it is a regular
// file within its bound; absent is no error here.
func checkFile(dir, name string) error {
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return within(name, fi)
}

// within checks a file's mode and size against its bound.
func within(name string, fi fs.FileInfo) error {
	b := fileBound(name)
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s)", name, kindOf(fi.Mode()))
	}
	if fi.Size() > b.max {
		return fmt.Errorf("%s is %s, over the %s bound for %s", name, mib(fi.Size()), mib(b.max), b.what)
	}
	return nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.Type().String()
}

func mib(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// readFile reads the file name (relative to dir) within its bound. It
// refuses what is not a regular file before opening it (opening a FIFO
// blocks, a device can act on open), and opens without blocking and checks
// again what it opened, so a file swapped in between is refused too.
// A missing file is fs.ErrNotExist.
func readFile(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := within(name, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := within(name, fi); err != nil {
		return nil, err
	}
	max := fileBound(name).max
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > max { // grew while read
		return nil, fmt.Errorf("%s is over the %s bound for %s", name, mib(max), fileBound(name).what)
	}
	return data, nil
}

// readModel reads and parses dir's saved_model.pb, after checking every file
// of the folder TensorFlow will read (modelFiles) is a regular file within
// its bound.
func readModel(dir string) (*corepb.SavedModel, error) {
	data, err := readFile(dir, "saved_model.pb")
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return nil, errors.New("no such folder (" + exportHint(dir) + ")")
		}
		return nil, errors.New("not a SavedModel folder (no saved_model.pb)")
	}
	if err != nil {
		return nil, err
	}
	if err := checkFiles(dir); err != nil {
		return nil, err
	}
	var saved corepb.SavedModel
	if err := proto.Unmarshal(data, &saved); err != nil {
		return nil, fmt.Errorf("saved_model.pb is not a SavedModel: %w", err)
	}
	return &saved, nil
}

// checkFiles checks the folder's files TensorFlow reads (graphs reads the
// others with readFile).
func checkFiles(dir string) error {
	if err := checkFile(dir, "fingerprint.pb"); err != nil {
		return err
	}
	if err := checkFile(dir, filepath.Join("variables", "variables.index")); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(dir, "variables"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("variables: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "variables.data-") {
			if err := checkFile(dir, filepath.Join("variables", e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
