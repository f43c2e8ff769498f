package rundir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/styletransfer/gostyle/runner/regularfile"
)

// RunState is where a run stands; status.json records it for every reader.
type RunState string

const (
	Running     RunState = "running"     // a runner holds the folder (or died holding it: Status.Stale)
	Interrupted RunState = "interrupted" // stopped on request; resumable from its last checkpoint
	Failed      RunState = "failed"      // stopped on an error; Status.Error says which
	Done        RunState = "done"        // finished: every output is final
)

// StatusName (files.go) is the status marker. Only a folder whose marker
// says done holds a finished run; summaries, sweeps and viewers must check it.
const statusName = StatusName

// Status is the content of status.json.
type Status struct {
	State     RunState  `json:"state"`
	Iteration int       `json:"iteration"` // last checkpointed iteration (the final one once done)
	ConfigID  string    `json:"config_id"` // hash of the resolved config that made this run
	PID       int       `json:"pid"`       // the last runner that worked on it
	Host      string    `json:"host"`
	Created   time.Time `json:"created"` // when the run first started
	Started   time.Time `json:"started"` // when its last runner started (or resumed) it
	Updated   time.Time `json:"updated"`
	Error     string    `json:"error,omitempty"` // why it failed

	// Stale is set by ReadStatus when the state says running but no
	// process holds the folder's lock: its runner died (kill -9, crash,
	// power loss) and the run is resumable.
	Stale bool `json:"-"`
}

// ErrNoStatus is matched by ReadStatus's error when a folder has no status
// marker (not a run folder, or one written before markers existed).
var ErrNoStatus = errors.New("no status marker")

// ReadStatus reads dir's status marker (a regular file of at most
// MaxStatusBytes) and checks, for a running run,
// whether its runner is still alive.
func ReadStatus(dir string) (Status, error) {
	st, err := readStatus(dir)
	if err == nil && st.State == Running {
		st.Stale = lockFree(dir)
	}
	return st, err
}

// readStatus reads the marker without probing the lock (Open holds it).
func readStatus(dir string) (Status, error) {
	var st Status
	data, err := regularfile.Read(filepath.Join(dir, statusName), MaxStatusBytes)
	if errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("%s: %w (%s missing)", dir, ErrNoStatus, statusName)
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s: unreadable: %v", filepath.Join(dir, statusName), err)
	}
	switch st.State {
	case Running, Interrupted, Failed, Done:
	default:
		return st, fmt.Errorf("%s: unknown state %q", filepath.Join(dir, statusName), st.State)
	}
	return st, nil
}

// writeStatus replaces dir's status marker atomically. On a disk too full
// for the new version's temporary file, it overwrites the old marker in
// place instead, within the space that file already holds, so that a run
// stopped by a full disk is still marked failed or interrupted, not left
// "running".
func writeStatus(dir string, st Status) error {
	path := filepath.Join(dir, statusName)
	data, err := encodeStatus(st)
	if err != nil {
		return err
	}
	err = atomicWrite(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, nil)
	if errors.Is(err, ErrDiskFull) {
		if len(st.Error) > 200 {
			st.Error = strings.ToValidUTF8(st.Error[:200], "") + "..."
		}
		if data, jerr := encodeStatus(st); jerr == nil && rewriteInPlace(path, data) == nil {
			return nil
		}
	}
	return err
}

func encodeStatus(st Status) ([]byte, error) {
	js, err := json.MarshalIndent(st, "", "  ")
	return append(js, '\n'), err
}

// rewriteInPlace overwrites the regular file path with data if data fits
// in the blocks the file already holds (a write there needs no free space),
// padding a shorter data with spaces; otherwise it changes nothing.
func rewriteInPlace(path string, data []byte) error {
	f, err := regularfile.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int64(len(data)) > sys.Blocks*512 {
		return fmt.Errorf("%s: %d bytes do not fit in its %d allocated bytes", path, len(data), sys.Blocks*512)
	}
	if pad := fi.Size() - int64(len(data)); pad > 0 {
		data = append(append(data[:len(data)-1], bytes.Repeat([]byte{' '}, int(pad))...), '\n')
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

func (st Status) resumable() bool {
	return st.State == Interrupted || st.State == Failed || (st.State == Running && st.Stale)
}
