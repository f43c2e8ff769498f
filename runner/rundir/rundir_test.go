package rundir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The helper process: the test binary re-executed with RUNDIR_HELPER set
// plays a second runner, so locks and crashes are tested across processes.
func TestMain(m *testing.M) {
	switch mode := os.Getenv("RUNDIR_HELPER"); mode {
	case "":
		os.Exit(m.Run())
	default:
		helper(mode, os.Getenv("RUNDIR_DIR"))
	}
}

func helper(mode, dir string) {
	if mode == "loop" {
		killAt, _ := strconv.Atoi(os.Getenv("RUNDIR_KILL_AT"))
		if err := toyRun(dir, killAt); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	f, err := Open(dir, Options{ConfigID: "cfg-a"})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	switch mode {
	case "hold":
		fmt.Println("ready")
	case "write":
		// Half of a new version, then stop mid-write until killed.
		f.WriteWith("result.bin", func(w io.Writer) error {
			w.Write(bytes.Repeat([]byte("new"), 100000))
			w.(interface{ Flush() error }).Flush()
			fmt.Println("ready")
			time.Sleep(time.Hour)
			return nil
		})
	}
	time.Sleep(time.Hour) // until killed (select{} would end as a deadlock)
	f.Close()
}

// startHelper runs the helper on dir and waits until it says it is ready.
func startHelper(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RUNDIR_HELPER="+mode, "RUNDIR_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper %s: %q %v", mode, line, err)
	}
	return cmd
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

func mustOpen(t *testing.T, dir string, opts Options) *Folder {
	t.Helper()
	f, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestSecondRunnerIsRefusedAndAKilledOnesLockIsTakenOver(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cmd := startHelper(t, "hold", dir)

	start := time.Now()
	_, err := Open(dir, Options{ConfigID: "cfg-a"})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second runner: err = %v, want ErrInUse", err)
	}
	host, _ := os.Hostname()
	want := fmt.Sprintf("run folder %s is in use by pid %d on host %s since ", dir, cmd.Process.Pid, host)
	if msg := err.Error(); !strings.HasPrefix(msg, want) || strings.Contains(msg, "\n") {
		t.Errorf("refusal = %q, want one line starting %q", msg, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v", d)
	}
	st, err := ReadStatus(dir)
	if err != nil || st.State != Running || st.Stale || st.PID != cmd.Process.Pid {
		t.Errorf("status of a live run = %+v, %v", st, err)
	}

	kill(t, cmd)
	st, err = ReadStatus(dir)
	if err != nil || st.State != Running || !st.Stale {
		t.Errorf("status after SIGKILL = %+v, %v; want running and stale", st, err)
	}
	f := mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	notes := strings.Join(f.Notes(), "\n")
	if !strings.Contains(notes, fmt.Sprintf("took over run folder %s from pid %d", dir, cmd.Process.Pid)) {
		t.Errorf("notes = %q, want the stale lock taken over", notes)
	}
	if !f.Resumable() || f.Previous().PID != cmd.Process.Pid {
		t.Errorf("killed run of the same config: Resumable %v, previous %+v", f.Resumable(), f.Previous())
	}
	if st, _ := ReadStatus(dir); st.PID != os.Getpid() || st.State != Running || st.Stale {
		t.Errorf("status after take-over = %+v", st)
	}
	// A clean Close leaves nothing to take over.
	f.Interrupt(0)
	f.Close()
	f = mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	if len(f.Notes()) != 0 {
		t.Errorf("notes after a clean close: %q", f.Notes())
	}
}

func TestKilledWriteLeavesThePreviousVersion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	f := mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	old := []byte("the previous version\n")
	if err := f.WriteFile("result.bin", old); err != nil {
		t.Fatal(err)
	}
	f.Interrupt(0)
	f.Close()

	kill(t, startHelper(t, "write", dir))
	if got, _ := os.ReadFile(filepath.Join(dir, "result.bin")); !bytes.Equal(got, old) {
		t.Fatalf("after a killed write: %d bytes %q..., want the previous version", len(got), got[:min(len(got), 20)])
	}
	temps, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*"))
	if len(temps) != 1 {
		t.Fatalf("temporary files after the kill: %v (want the torn one)", temps)
	}
	f = mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	if temps, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*")); len(temps) != 0 {
		t.Errorf("Open left %v", temps)
	}
	if !strings.Contains(strings.Join(f.Notes(), "\n"), "removed 1 temporary file") {
		t.Errorf("notes = %q", f.Notes())
	}
}

func TestFailedWriteLeavesThePreviousVersion(t *testing.T) {
	f := mustOpen(t, filepath.Join(t.TempDir(), "run"), Options{ConfigID: "c"})
	if err := f.WriteFile("a.txt", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("encoder failed")
	err := f.WriteWith("a.txt", func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 200000)) // past the buffer: on disk
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), filepath.Join(f.Path(), "a.txt")) {
		t.Errorf("err = %v, want the write func's error naming the file", err)
	}
	if got, _ := os.ReadFile(filepath.Join(f.Path(), "a.txt")); string(got) != "v1" {
		t.Errorf("a.txt = %q, want v1", got)
	}
	entries, _ := os.ReadDir(f.Path())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if info, err := os.Stat(filepath.Join(f.Path(), "a.txt")); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("a.txt mode: %v %v", info.Mode(), err)
	}
	for _, bad := range []string{"", "..", "a/b", "status.json", "state.bin", ".lock", tmpPrefix + "x"} {
		if err := f.WriteFile(bad, nil); err == nil {
			t.Errorf("WriteFile(%q) accepted", bad)
		}
	}
}

func TestRefusalsNameTheRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	f := mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	f.Interrupt(7)
	f.Close()
	_, err := Open(dir, Options{ConfigID: "cfg-b"})
	if !errors.Is(err, ErrOtherRun) || !strings.Contains(err.Error(), "cfg-a") || !strings.Contains(err.Error(), "cfg-b") {
		t.Errorf("other config: %v", err)
	}
	f = mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	if !f.Resumable() || f.Previous().Iteration != 7 || f.Status().Iteration != 7 {
		t.Errorf("same config: resumable %v previous %+v", f.Resumable(), f.Previous())
	}
	f.SetIteration(10)
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(dir, Options{ConfigID: "cfg-a"})
	if !errors.Is(err, ErrDone) || !strings.Contains(err.Error(), "10 iterations") {
		t.Errorf("finished run: %v", err)
	}

	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "holiday.jpg"), []byte("x"), 0o644)
	if _, err := Open(other, Options{ConfigID: "c"}); !errors.Is(err, ErrOtherRun) || !strings.Contains(err.Error(), "no status.json") {
		t.Errorf("folder of other files: %v", err)
	}
	if _, err := ReadStatus(other); !errors.Is(err, ErrNoStatus) {
		t.Errorf("ReadStatus of a folder of other files: %v", err)
	}
	garbled := t.TempDir()
	os.WriteFile(filepath.Join(garbled, statusName), []byte(`{"state": "runn`), 0o644)
	if _, err := Open(garbled, Options{ConfigID: "c"}); !errors.Is(err, ErrOtherRun) || !strings.Contains(err.Error(), "status.json: unreadable") {
		t.Errorf("garbled status: %v", err)
	}
	os.WriteFile(filepath.Join(garbled, statusName), []byte(`{"state": "paused"}`), 0o644)
	if _, err := ReadStatus(garbled); err == nil || !strings.Contains(err.Error(), `unknown state "paused"`) {
		t.Errorf("unknown state: %v", err)
	}
	if _, err := Open(t.TempDir(), Options{}); err == nil {
		t.Error("no config id: accepted")
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOverwriteKeepsTheFinishedRunUntilTheNewOneFinishes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	a := mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	a.WriteFile("final.txt", []byte("A"))
	a.Finish()
	a.Close()

	b := mustOpen(t, dir, Options{ConfigID: "cfg-b", Overwrite: true})
	if !b.Replacing() || b.Path() != dir+".new" || b.Resumable() {
		t.Fatalf("overwrite: replacing %v path %s resumable %v", b.Replacing(), b.Path(), b.Resumable())
	}
	b.WriteFile("final.txt", []byte("B"))
	if st, _ := ReadStatus(dir); st.State != Done || st.ConfigID != "cfg-a" || read(t, filepath.Join(dir, "final.txt")) != "A" {
		t.Errorf("while replacing, %s = %+v", dir, st)
	}
	// Interrupted: the old run stays; a plain rerun is refused and says the
	// replacement can be resumed.
	b.Interrupt(3)
	b.Close()
	if read(t, filepath.Join(dir, "final.txt")) != "A" {
		t.Error("interrupted replacement touched the finished run")
	}
	_, err := Open(dir, Options{ConfigID: "cfg-b"})
	if !errors.Is(err, ErrDone) || !strings.Contains(err.Error(), "unfinished replacement") {
		t.Errorf("rerun without overwrite: %v", err)
	}
	b = mustOpen(t, dir, Options{ConfigID: "cfg-b", Overwrite: true})
	if !b.Resumable() || b.Previous().Iteration != 3 || read(t, filepath.Join(b.Path(), "final.txt")) != "B" {
		t.Fatalf("replacement not resumed: %v %+v", b.Resumable(), b.Previous())
	}
	// Another process cannot slip in while the swap happens.
	if _, err := Open(dir, Options{ConfigID: "cfg-b", Overwrite: true}); !errors.Is(err, ErrInUse) {
		t.Errorf("second runner during replacement: %v", err)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	if st, _ := ReadStatus(dir); st.State != Done || st.ConfigID != "cfg-b" || read(t, filepath.Join(dir, "final.txt")) != "B" {
		t.Errorf("after Finish: %+v", st)
	}
	if _, err := os.Stat(dir + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.new left: %v", dir, err)
	}
	if _, err := Open(dir, Options{ConfigID: "cfg-c"}); !errors.Is(err, ErrInUse) {
		t.Errorf("lock lost in the swap: %v", err)
	}
	b.Close()
	if _, err := os.Stat(filepath.Join(dir, replacedMarker)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker in the new run: %v", err)
	}
}

// A crash inside Finish's swap, at either side of the exchange, is completed
// by the next Open, never undone.
func TestOpenCompletesACutShortSwap(t *testing.T) {
	for _, swapped := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "run")
		a := mustOpen(t, dir, Options{ConfigID: "cfg-a"})
		a.WriteFile("final.txt", []byte("A"))
		a.Finish()
		a.Close()
		b := mustOpen(t, dir, Options{ConfigID: "cfg-b", Overwrite: true})
		b.WriteFile("final.txt", []byte("B"))
		b.setState(Done, 5, "")
		b.release() // "crash" before the swap
		if swapped {
			os.WriteFile(filepath.Join(dir, replacedMarker), nil, 0o644)
			if err := os.Rename(dir, dir+".tmp"); err != nil {
				t.Fatal(err)
			}
			os.Rename(dir+".new", dir)
			os.Rename(dir+".tmp", dir+".new") // "crash" after the exchange
		}
		_, err := Open(dir, Options{ConfigID: "cfg-b"})
		if !errors.Is(err, ErrDone) {
			t.Errorf("swapped=%v: %v", swapped, err)
		}
		if st, _ := ReadStatus(dir); st.ConfigID != "cfg-b" || read(t, filepath.Join(dir, "final.txt")) != "B" {
			t.Errorf("swapped=%v: %s holds %+v", swapped, dir, st)
		}
		if _, err := os.Stat(dir + ".new"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("swapped=%v: .new left", swapped)
		}
	}
}

func TestCSVWholeRowsAndRepair(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	f := mustOpen(t, dir, Options{ConfigID: "c"})
	const header = "iteration,total,seconds"
	c, err := f.AppendCSV("metrics.csv", header)
	if err != nil {
		t.Fatal(err)
	}
	for it := 0; it < 4; it++ {
		c.Begin(it)
		c.Float32(float32(it) + 0.1)
		c.Seconds(float64(it) / 3)
		if err := c.End(); err != nil {
			t.Fatal(err)
		}
	}
	c.Begin(4)
	if err := c.End(); err == nil {
		t.Error("row with a missing column written")
	}
	c.Close()
	path := filepath.Join(dir, "metrics.csv")
	whole := "iteration,total,seconds\n0,0.1,0.0000\n1,1.1,0.3333\n2,2.1,0.6667\n3,3.1,1.0000\n"
	if got := read(t, path); got != whole {
		t.Fatalf("metrics.csv = %q", got)
	}
	for _, torn := range []string{"4,4.1", "4,4.1\n", "4,4.1,1\x00\x00\x00\n", "\x00\x00\x00"} {
		os.WriteFile(path, []byte(whole+torn), 0o644)
		f.notes = nil
		c, err := f.AppendCSV("metrics.csv", header)
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, path); got != whole {
			t.Errorf("torn %q: repaired to %q", torn, got)
		}
		if len(f.Notes()) != 1 || !strings.Contains(f.Notes()[0], "torn last row") {
			t.Errorf("torn %q: notes %q", torn, f.Notes())
		}
		c.Close()
	}
	// A row torn after a power loss kept its newline but lost a column.
	os.WriteFile(path, []byte(whole+"4,4.1,1.3333\n5,5.\n"), 0o644)
	c, _ = f.AppendCSV("metrics.csv", header)
	if got := read(t, path); got != whole+"4,4.1,1.3333\n" {
		t.Errorf("short row: %q", got)
	}
	// Resume from a checkpoint that covered rows up to 2.
	if err := c.TruncateAfter(2); err != nil {
		t.Fatal(err)
	}
	c.Begin(3)
	c.Float32(3.1)
	c.Seconds(1)
	c.End()
	c.Close()
	if got := read(t, path); got != "iteration,total,seconds\n0,0.1,0.0000\n1,1.1,0.3333\n2,2.1,0.6667\n3,3.1,1.0000\n" {
		t.Errorf("after TruncateAfter(2) and row 3: %q", got)
	}
	// A header torn while written is rewritten; another header is refused.
	os.WriteFile(path, []byte("itera"), 0o644)
	if c, err = f.AppendCSV("metrics.csv", header); err != nil || read(t, path) != header+"\n" {
		t.Errorf("torn header: %v %q", err, read(t, path))
	}
	c.Close()
	if _, err := f.AppendCSV("metrics.csv", "iteration,loss"); err == nil || !strings.Contains(err.Error(), "metrics.csv") {
		t.Errorf("other header: %v", err)
	}
}

func TestCSVRowsDoNotAllocate(t *testing.T) {
	f := mustOpen(t, filepath.Join(t.TempDir(), "run"), Options{ConfigID: "c"})
	c, err := f.AppendCSV("m.csv", "iteration,a,b,c,d")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it := 0
	allocs := testing.AllocsPerRun(200, func() {
		c.Begin(it)
		c.Float32(1.25e-7)
		c.Float64(3.5)
		c.Int(it)
		c.Seconds(12.5)
		if err := c.End(); err != nil {
			t.Fatal(err)
		}
		it++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per row", allocs)
	}
}

// TestResumeFolder: -resume's decision. An unfinished run resumes where it
// is; a finished one with an unfinished replacement in "<dir>.new" resumes
// the replacement (named either way); a finished one alone, or a folder
// that is not a run, has nothing to resume.
func TestResumeFolder(t *testing.T) {
	root := t.TempDir()
	unfinished := filepath.Join(root, "unfinished")
	f := mustOpen(t, unfinished, Options{ConfigID: "cfg-a"})
	f.Interrupt(3)
	f.Close()
	finished := filepath.Join(root, "finished")
	f = mustOpen(t, finished, Options{ConfigID: "cfg-a"})
	f.Finish()
	f.Close()
	replaced := filepath.Join(root, "replaced")
	f = mustOpen(t, replaced, Options{ConfigID: "cfg-a"})
	f.Finish()
	f.Close()
	f = mustOpen(t, replaced, Options{ConfigID: "cfg-b", Overwrite: true})
	f.Interrupt(2)
	f.Close()
	for _, c := range []struct {
		dir, run, work string
		err            error
	}{
		{unfinished, unfinished, unfinished, nil},
		{unfinished + "/", unfinished, unfinished, nil},
		{replaced, replaced, replaced + ".new", nil},
		{replaced + ".new", replaced, replaced + ".new", nil},
		{finished, "", "", ErrDone},
		{root, "", "", ErrNoStatus},
		{filepath.Join(root, "missing"), "", "", ErrNoStatus},
	} {
		run, work, err := ResumeFolder(c.dir)
		if run != c.run || work != c.work || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("ResumeFolder(%s) = %q, %q, %v; want %q, %q, %v", c.dir, run, work, err, c.run, c.work, c.err)
		}
	}
}

// Replacing reports whether this run replaces an earlier one at Finish.
func (f *Folder) Replacing() bool { return f.replacing }
