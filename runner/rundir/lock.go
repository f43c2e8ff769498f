package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/styletransfer/gostyle/runner/regularfile"
	"golang.org/x/sys/unix"
)

// lockName is the lock file in every run folder. The kernel holds the lock
// (flock), so it is released when its holder dies however it dies; the file's
// text only says who holds it, for the refusal message.
const lockName = ".lock"

// Holder says who holds (or last held) a run folder's lock.
type Holder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "another process (it has not written its name yet)"
	}
	return fmt.Sprintf("pid %d on host %s since %s", h.PID, h.Host, h.Since.Format(time.RFC3339))
}

// ErrInUse is matched (errors.Is) by the error Open returns when another
// live process holds the folder.
var ErrInUse = errors.New("run folder in use")

// InUseError is Open's one-line refusal: the folder and who holds it.
type InUseError struct {
	Dir    string
	Holder Holder
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("run folder %s is in use by %s", e.Dir, e.Holder)
}

func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// me is this process as a lock holder.
func me(now time.Time) Holder {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return Holder{PID: os.Getpid(), Host: host, Since: now.UTC().Truncate(time.Second)}
}

// lockRetries covers the moments when the lock is briefly busy without a
// runner behind it: ReadStatus probing it, or a holder between taking the
// lock and writing its name.
const (
	lockRetries = 10
	lockPause   = 20 * time.Millisecond
)

// lock takes dir's lock without waiting. It returns the open lock file (the
// lock lives as long as it stays open) and the previous holder's record,
// non-zero only when that holder died without releasing it cleanly.
func lock(dir string, self Holder) (*os.File, Holder, error) {
	path := dir + "/" + lockName
	for attempt := 0; ; attempt++ {
		f, err := regularfile.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, Holder{}, fmt.Errorf("lock run folder %s: %w", dir, err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := readHolder(f)
			f.Close()
			if attempt < lockRetries {
				time.Sleep(lockPause)
				continue
			}
			return nil, Holder{}, &InUseError{Dir: dir, Holder: holder}
		}
		if err != nil {
			f.Close()
			return nil, Holder{}, fmt.Errorf("lock run folder %s: %w", dir, err)
		}
		// The file we locked must still be the one at the path: a run that
		// finished a replacement swaps folders, and a lock on the old inode
		// would guard nothing.
		if same, err := samePath(f, path); err != nil || !same {
			f.Close()
			if err != nil {
				return nil, Holder{}, fmt.Errorf("lock run folder %s: %w", dir, err)
			}
			continue
		}
		prev := readHolder(f)
		if err := writeHolder(f, self); err != nil {
			f.Close()
			return nil, Holder{}, fmt.Errorf("lock run folder %s: %w", dir, err)
		}
		return f, prev, nil
	}
}

// unlock clears the holder's record (a clean release leaves an empty lock
// file, so a record found later means its holder died) and releases the lock.
func unlock(f *os.File) error {
	err := f.Truncate(0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func samePath(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

func readHolder(f *os.File) Holder {
	var h Holder
	buf := make([]byte, 512)
	n, _ := f.ReadAt(buf, 0)
	if n > 0 {
		_ = json.Unmarshal(buf[:n], &h) // a torn record reads as unknown
	}
	return h
}

func writeHolder(f *os.File, h Holder) error {
	js, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(js, '\n'), 0); err != nil {
		return err
	}
	return f.Sync()
}

// lockFree reports whether nobody holds dir's lock, without taking it for
// longer than the probe (a shared lock, dropped at once).
func lockFree(dir string) bool {
	f, err := regularfile.Open(dir + "/" + lockName)
	if err != nil {
		return true
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return false
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return true
}
