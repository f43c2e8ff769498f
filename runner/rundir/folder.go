// Package rundir owns a run folder's reliability, so that a run never loses
// results: one runner at a time per folder (a kernel lock naming its holder),
// a status marker every reader respects, files replaced atomically, CSV logs
// of whole rows, and checkpoint state for an exact resume. A finished run is
// never replaced by an unfinished one.
//
// The folder layout it owns:
//
//	.lock           the lock (flock) and its holder's pid, host and start time
//	status.json     running | interrupted | failed | done, iteration, config id
//	state.bin       the last checkpoint's state (image, optimizer, scalars)
//	state.prev.bin  the one before, used if state.bin is damaged
//	*.csv, *.png    the caller's files, written through the Folder
//
// While a finished run is being replaced (Options.Overwrite), the new run
// works in the sibling folder "<dir>.new" and Finish swaps it in atomically.
package rundir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Options says which run a folder is for and whether it may be replaced.
type Options struct {
	// ConfigID identifies the run: a hash of the resolved config. An
	// unfinished run with the same id is resumed, never one with another.
	ConfigID string
	// Overwrite allows replacing a finished run, an unfinished run of
	// another config, or a folder of other files. The old content stays
	// intact until the new run finishes.
	Overwrite bool
	// StatePixels is the largest picture (width x height) this run's
	// checkpoints hold: LoadState refuses a state file over
	// MaxStateBytes(StatePixels). 0: 16384 x 16384, the largest a config allows.
	StatePixels int
	// Note, if set, hears each note as it is made (see Folder.Notes):
	// notes made by later calls (LoadState, AppendCSV) are not lost.
	Note func(string)
}

// ErrDone is matched by Open's error when the folder holds a finished run
// and Options.Overwrite is not set.
var ErrDone = errors.New("run folder holds a finished run")

// ErrOtherRun is matched by Open's error when the folder holds an
// unfinished run of another config, or files that are not a run.
var ErrOtherRun = errors.New("run folder holds another run")

// replacedMarker is written into an old run just before Finish swaps a
// replacement in: after the swap it lies in "<dir>.new" and tells Open that
// what is there is the old run, to be removed, not a replacement to install.
const replacedMarker = ".replaced"

// Folder is an open, locked run folder. Keep it until Close: the lock
// lives as long as the Folder's files stay open.
type Folder struct {
	dir       string // the run folder's name, as given to Open
	path      string // where files are written: dir, or dir+".new" while replacing
	configID  string
	opts      Options
	locks     []*os.File
	status    Status
	previous  Status
	resumable bool
	replacing bool
	notes     []string
	closed    bool
}

// Open creates dir if needed, takes its lock and decides, from its status
// marker, whether this run starts fresh, resumes, replaces or is refused:
//
//   - no folder, or an empty one: a fresh run in place;
//   - interrupted, failed, or running with a dead runner, same config id:
//     resumable (Resumable reports true; LoadState gives the checkpoint);
//   - done: refused with ErrDone unless Overwrite;
//   - another config id, or files without a status marker: refused with
//     ErrOtherRun (naming both ids) unless Overwrite.
//
// With Overwrite the new run works in "<dir>.new" and the old content stays
// in dir until Finish swaps them; an unfinished replacement of the same
// config left there by an earlier Overwrite run is resumed.
func Open(dir string, opts Options) (*Folder, error) {
	if opts.ConfigID == "" {
		return nil, fmt.Errorf("open run folder %s: no config id", dir)
	}
	dir = filepath.Clean(dir)
	if err := makeFolder(dir); err != nil {
		return nil, err
	}
	if opts.StatePixels <= 0 {
		opts.StatePixels = 16384 * 16384
	}
	f := &Folder{dir: dir, path: dir, configID: opts.ConfigID, opts: opts}
	now := time.Now()
	if err := f.lock(dir, now); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			f.release()
		}
	}()
	f.removeTemps(dir)
	newDir := dir + ".new"
	repl, err := f.recoverReplacement(dir, newDir, now)
	if err != nil {
		return nil, err
	}
	refusal := f.decide(dir)
	if refusal != nil && !opts.Overwrite {
		if repl != nil && repl.resumable() && repl.ConfigID == opts.ConfigID {
			refusal = fmt.Errorf("%w (the unfinished replacement in %s resumes when overwriting)", refusal, newDir)
		}
		return nil, refusal
	}
	if refusal != nil {
		if err := f.startReplacement(newDir, repl, now); err != nil {
			return nil, err
		}
	}
	if err := f.markRunning(now); err != nil {
		return nil, err
	}
	ok = true
	return f, nil
}

// makeFolder creates dir (a full disk said as such) and refuses a link.
func makeFolder(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
			return writeError(dir, err)
		}
		return fmt.Errorf("create run folder: %w", err) // names the path
	}
	return notLinked(dir)
}

// decide reads dir's status marker and returns why this run may not work
// there, as Open's table says: nil for a fresh run in place or a resumable
// one (which it notes in f), else the typed refusal.
func (f *Folder) decide(dir string) error {
	st, err := readStatus(dir)
	if err == nil && st.State == Running {
		st.Stale = true // we hold the lock: its runner is gone
	}
	switch {
	case errors.Is(err, ErrNoStatus):
		if empty(dir) {
			return nil // a fresh run in place
		}
		return refuse(ErrOtherRun, "run folder %s holds files but no %s (not a run of this runner, or one from an older version): choose another output or name, or pass -overwrite", dir, statusName)
	case err != nil:
		return refuse(ErrOtherRun, "run folder %s: %v: choose another output or name, or pass -overwrite", dir, err)
	case st.State == Done:
		return refuse(ErrDone, "run folder %s holds a finished run (config %s, %d iterations, finished %s): pass -overwrite to replace it (it stays until the new run finishes), or choose another output or name",
			dir, st.ConfigID, st.Iteration, st.Updated.Local().Format(time.DateTime))
	case st.ConfigID == f.opts.ConfigID:
		f.resumable, f.previous = true, st
		return nil
	default:
		return refuse(ErrOtherRun, "run folder %s holds an unfinished (%s) run of another config (%s; this one is %s): pass -overwrite to replace it, or choose another output or name",
			dir, st.State, st.ConfigID, f.opts.ConfigID)
	}
}

// markRunning writes the status marker of this run (a resumed run keeps
// its iteration and creation time).
func (f *Folder) markRunning(now time.Time) error {
	f.status = Status{State: Running, ConfigID: f.opts.ConfigID, Created: now.UTC(), Started: now.UTC(), Updated: now.UTC()}
	if f.resumable {
		f.status.Iteration, f.status.Created = f.previous.Iteration, f.previous.Created
	}
	f.status.PID, f.status.Host = os.Getpid(), hostname()
	return writeStatus(f.path, f.status)
}

// lock takes d's lock and notes a stale holder it took over.
func (f *Folder) lock(d string, now time.Time) error {
	lf, prev, err := lock(d, me(now))
	if err != nil {
		return err
	}
	f.locks = append(f.locks, lf)
	if prev.PID != 0 {
		f.notef("took over run folder %s from %s, which stopped without releasing it", d, prev)
	}
	return nil
}

// recoverReplacement looks at "<dir>.new", left by an Overwrite run that
// did not finish: an old run already swapped out is removed, a finished
// replacement whose swap was cut short is swapped in, and an unfinished one
// is returned (its status) for Open to resume or discard.
func (f *Folder) recoverReplacement(dir, newDir string, now time.Time) (*Status, error) {
	if _, err := os.Lstat(newDir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err := notLinked(newDir); err != nil {
		return nil, err
	}
	if err := f.lock(newDir, now); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(newDir, replacedMarker)); err == nil {
		if err := os.RemoveAll(newDir); err != nil {
			return nil, fmt.Errorf("remove the replaced run %s: %w", newDir, err)
		}
		f.notef("removed %s, the run replaced by %s (its removal had been cut short)", newDir, dir)
		return nil, nil
	}
	st, err := readStatus(newDir)
	if err != nil {
		return nil, nil // not even started: startReplacement clears it if needed
	}
	if st.State == Running {
		st.Stale = true
	}
	if st.State == Done {
		if err := swapIn(newDir, dir); err != nil {
			return nil, err
		}
		f.notef("completed the replacement of %s by its finished new run (the swap had been cut short)", dir)
		return nil, nil
	}
	return &st, nil
}

// startReplacement makes "<dir>.new" the working folder: an unfinished
// replacement of the same config is resumed, anything else there is cleared.
func (f *Folder) startReplacement(newDir string, repl *Status, now time.Time) error {
	f.replacing, f.path = true, newDir
	if repl != nil && repl.resumable() && repl.ConfigID == f.configID {
		f.resumable, f.previous = true, *repl
		f.notef("resuming the unfinished replacement in %s (%s at iteration %d)", newDir, repl.State, repl.Iteration)
		f.removeTemps(newDir)
		return nil
	}
	f.resumable, f.previous = false, Status{}
	if err := os.RemoveAll(newDir); err != nil {
		return fmt.Errorf("clear %s: %w", newDir, err)
	}
	if err := os.Mkdir(newDir, 0o755); err != nil {
		return writeError(newDir, err)
	}
	return f.lock(newDir, now)
}

// swapIn installs the finished run in newDir as dir: the old run is marked
// replaced, the two folders are exchanged in one atomic rename, and the old
// run (now at newDir) is removed.
func swapIn(newDir, dir string) error {
	if err := os.WriteFile(filepath.Join(dir, replacedMarker), nil, 0o644); err != nil {
		return writeError(filepath.Join(dir, replacedMarker), err)
	}
	if err := syncDir(dir); err != nil {
		return writeError(dir, err)
	}
	err := unix.Renameat2(unix.AT_FDCWD, newDir, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		// A file system without atomic exchange: two renames; a crash
		// between them leaves the finished run in newDir for Open to find.
		old := newDir + ".old"
		if err = os.Rename(dir, old); err == nil {
			if err = os.Rename(newDir, dir); err == nil {
				err = os.Rename(old, newDir)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("install %s as %s: %w", newDir, dir, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return writeError(dir, err)
	}
	if err := os.RemoveAll(newDir); err != nil {
		return fmt.Errorf("remove the replaced run %s: %w", newDir, err)
	}
	return nil
}

// Dir is the run folder's name: where the run is once finished.
func (f *Folder) Dir() string { return f.dir }

// Path is where files are written now: Dir, or "<Dir>.new" while replacing.
func (f *Folder) Path() string { return f.path }

// Resumable reports whether the folder holds an unfinished run of this
// config; LoadState then gives its last checkpoint.
func (f *Folder) Resumable() bool { return f.resumable }

// Previous is the status the folder had when opened (resumable runs only).
func (f *Folder) Previous() Status { return f.previous }

// Status is the run's status as last written.
func (f *Folder) Status() Status { return f.status }

// Notes are the things Open and later calls did that the user should hear
// of: a stale lock taken over, a torn CSV row repaired, a damaged state
// file skipped.
func (f *Folder) Notes() []string { return f.notes }

func (f *Folder) notef(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	f.notes = append(f.notes, n)
	if f.opts.Note != nil {
		f.opts.Note(n)
	}
}

// WriteFile replaces name in the run folder atomically: a crash at any
// moment leaves the previous version intact.
func (f *Folder) WriteFile(name string, data []byte) error {
	return f.WriteWith(name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteWith replaces name atomically with what write writes (buffered). If
// write fails, the previous version stays and the error names the file.
func (f *Folder) WriteWith(name string, write func(io.Writer) error) error {
	if err := f.usable(name); err != nil {
		return err
	}
	return atomicWrite(filepath.Join(f.path, name), write, nil)
}

// Finish marks the run done; write the final picture and close the CSV
// logs first. When replacing, it then swaps the new run in for the old one,
// atomically. A finished run's status no longer changes.
func (f *Folder) Finish() error {
	if err := f.setState(Done, f.status.Iteration, ""); err != nil {
		return err
	}
	if f.replacing {
		if err := swapIn(f.path, f.dir); err != nil {
			return err
		}
		f.path, f.replacing = f.dir, false
	}
	return nil
}

// SetIteration records the iteration the run got to (Finish records it).
func (f *Folder) SetIteration(it int) { f.status.Iteration = it }

// Fail marks the run failed with err's text; it stays resumable.
func (f *Folder) Fail(err error) error {
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	return f.setState(Failed, f.status.Iteration, msg)
}

// Interrupt marks the run interrupted at iteration (its last checkpoint).
func (f *Folder) Interrupt(iteration int) error {
	return f.setState(Interrupted, iteration, "")
}

func (f *Folder) setState(state RunState, it int, msg string) error {
	if f.closed {
		return fmt.Errorf("run folder %s: already closed", f.dir)
	}
	if f.status.State == Done {
		return fmt.Errorf("run folder %s: already finished", f.dir)
	}
	if len(msg) > maxErrorText {
		msg = strings.ToValidUTF8(msg[:maxErrorText], "") + "..."
	}
	st := f.status
	st.State, st.Iteration, st.Error, st.Updated = state, it, msg, time.Now().UTC()
	if err := writeStatus(f.path, st); err != nil {
		return err
	}
	f.status = st
	return nil
}

// Close releases the lock. A run still marked running is marked
// interrupted first, so that nobody mistakes it for a live one.
func (f *Folder) Close() error {
	if f.closed {
		return nil
	}
	var err error
	if f.status.State == Running {
		err = f.setState(Interrupted, f.status.Iteration, "")
	}
	f.release()
	return err
}

func (f *Folder) release() {
	for _, l := range f.locks {
		unlock(l)
	}
	f.locks, f.closed = nil, true
}

func (f *Folder) usable(name string) error {
	if f.closed {
		return fmt.Errorf("run folder %s: already closed", f.dir)
	}
	if err := checkName(name); err != nil {
		return err
	}
	if name == statusName || strings.HasPrefix(name, stateBase) {
		return fmt.Errorf("run folder file name %q: reserved for the run folder itself", name)
	}
	return nil
}

// removeTemps deletes temporary files a crashed writer left (only the lock
// holder writes here, so none of them is in use).
func (f *Folder) removeTemps(d string) {
	entries, _ := os.ReadDir(d)
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) && os.Remove(filepath.Join(d, e.Name())) == nil {
			n++
		}
	}
	if n > 0 {
		f.notef("removed %d temporary file(s) an interrupted write left in %s", n, d)
	}
}

// notLinked refuses a run folder that is a symbolic link: a run writes
// into the folder it names, never wherever a link in the output points.
func notLinked(d string) error {
	fi, err := os.Lstat(d)
	if err != nil {
		return fmt.Errorf("run folder %s: %w", d, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("run folder %s is a symbolic link or not a folder: a run folder must be a folder of its own", d)
	}
	return nil
}

// empty reports whether d holds nothing but the lock.
func empty(d string) bool {
	entries, err := os.ReadDir(d)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Name() != lockName {
			return false
		}
	}
	return true
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// refusal is Open's one-line refusal; errors.Is matches its kind
// (ErrDone, ErrOtherRun) without the kind's text in the message.
type refusal struct {
	msg  string
	kind error
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.kind }

func refuse(kind error, format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...), kind: kind}
}

// ResumeFolder says which run resuming dir continues: run is the folder to
// Open, and work is where its files are now. Both are dir when it holds an
// unfinished run. When dir holds a finished run and an interrupted Overwrite
// run left an unfinished replacement, work is that "<dir>.new" (dir may name
// it too): Open run with Overwrite to resume it. The error matches
// ErrNoStatus when dir is not a run folder and ErrDone when there is
// nothing to resume.
func ResumeFolder(dir string) (run, work string, err error) {
	dir = filepath.Clean(dir)
	if old, ok := strings.CutSuffix(dir, ".new"); ok {
		if st, err := ReadStatus(old); err == nil && st.State == Done {
			dir = old // the replacement of a finished run: resumed as such
		}
	}
	st, err := ReadStatus(dir)
	if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("%s: %w", dir, ErrNoStatus)
	}
	if err != nil {
		return "", "", err
	}
	if st.State != Done {
		return dir, dir, nil
	}
	newDir := dir + ".new"
	if _, err := os.Stat(filepath.Join(newDir, replacedMarker)); err == nil {
		return "", "", ErrDone // the old run, swapped out: not work to resume
	}
	if nst, err := ReadStatus(newDir); err == nil && nst.resumable() {
		return dir, newDir, nil
	}
	return "", "", ErrDone
}
