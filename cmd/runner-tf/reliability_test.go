package main

// End-to-end reliability of the real runner (issue 5): the test binary runs
// main() in child processes (see TestMain), which are killed, signalled,
// raced against each other and starved of disk, and their run folders are
// checked with the same readers users have (rundir.ReadStatus, LoadState).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	attrpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/attr_value_go_proto"
	nodepb "github.com/galeone/tensorflow/tensorflow/go/core/framework/node_def_go_proto"
	tensorpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/tensor_go_proto"
	typespb "github.com/galeone/tensorflow/tensorflow/go/core/framework/types_go_proto"
	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/styletransfer/gostyle/graphs/graphstest"
	"github.com/styletransfer/gostyle/runner/rundir"
)

// runName is the run folder the paper config makes under -out.
const runName = "shipwreck_starry_night"

// tinyRun is a run of the tiny model at 32x24 with a log line per iteration.
func tinyRun(out string, sets ...string) []string {
	args := []string{"-config", "experiments/paper.yaml", "-set", "model=testdata/vgg19-tiny",
		"-set", "width=32", "-set", "height=24", "-set", "log_every=1", "-out", out}
	for _, s := range sets {
		args = append(args, "-set", s)
	}
	return args
}

// proc is a runner started as a child process. Its stderr arrives as
// bin/runner hands it over (descriptor 3); TF_ENABLE_ONEDNN_OPTS is left as
// the test's environment sets it, so the suite can run under both CPU kinds.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	mu     sync.Mutex
	out    strings.Builder
	err    bytes.Buffer
	copied chan struct{}
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv is start with more environment variables.
func startEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: asMain(t, args...), lines: make(chan string, 1<<16), copied: make(chan struct{})}
	p.cmd.Env = append(p.cmd.Env, env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.ExtraFiles = []*os.File{w}
	p.cmd.Env = append(p.cmd.Env, stderrFDEnv+"=3")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() }) // a test that failed early leaves no runner behind
	w.Close()
	go func() {
		io.Copy(&p.err, r)
		r.Close()
		close(p.copied)
	}()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// waitFor reads the log until a line contains s; false if the runner ended first.
func (p *proc) waitFor(s string) bool {
	for line := range p.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// iteration is the log's line for iteration it.
func iteration(it int) string { return fmt.Sprintf("msg=iteration it=%d ", it) }

// wait ends with the runner: its stdout, stderr and exit code (-1 when a
// signal killed it).
func (p *proc) wait() (stdout, stderr string, code int) {
	for range p.lines { // drain, so the copy ends and Wait can return
	}
	err := p.cmd.Wait()
	<-p.copied
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		p.t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String(), p.err.String(), code
}

func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return start(t, args...).wait()
}

// mustRun runs the runner and fails unless it exits 0 with nothing on stderr.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := runCmd(t, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("%v: exit %d, stderr %q\n%s", args, code, stderr, stdout)
	}
	return stdout
}

// loadState reads a run folder's checkpoint with rundir's own reader (magic,
// version, CRC, config id): the state files are copied into a scratch folder
// marked as an interrupted run of the same config, which LoadState opens.
func loadState(t *testing.T, dir string) rundir.State {
	t.Helper()
	st, err := rundir.ReadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	for _, name := range []string{"state.bin", "state.prev.bin"} {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			os.WriteFile(filepath.Join(scratch, name), data, 0o644)
		}
	}
	os.WriteFile(filepath.Join(scratch, "status.json"),
		[]byte(fmt.Sprintf(`{"state": "interrupted", "config_id": %q}`, st.ConfigID)), 0o644)
	f, err := rundir.Open(scratch, rundir.Options{ConfigID: st.ConfigID})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := f.LoadState()
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return s
}

// sameFloats compares bit for bit (so NaN equals NaN and -0 differs from 0).
func sameFloats(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// compareStates reports every difference between two checkpoints but the
// wall-clock seconds.
func compareStates(t *testing.T, want, got rundir.State) {
	t.Helper()
	if want.Iteration != got.Iteration || want.Width != got.Width || want.Height != got.Height {
		t.Errorf("state: iteration %d %dx%d, want %d %dx%d", got.Iteration, got.Width, got.Height, want.Iteration, want.Width, want.Height)
	}
	if !sameFloats(want.Image, got.Image) {
		t.Errorf("state: the image differs")
	}
	wo, gopt := want.Optimizer, got.Optimizer
	if wo.Name != gopt.Name || len(wo.Vectors) != len(gopt.Vectors) || len(wo.Scalars) != len(gopt.Scalars) {
		t.Errorf("state: optimizer %s %d vectors %d scalars, want %s %d %d", gopt.Name, len(gopt.Vectors), len(gopt.Scalars), wo.Name, len(wo.Vectors), len(wo.Scalars))
	}
	for name, v := range wo.Vectors {
		if !sameFloats(v, gopt.Vectors[name]) {
			t.Errorf("state: optimizer vector %s differs", name)
		}
	}
	for name, v := range wo.Scalars {
		if g, ok := gopt.Scalars[name]; !ok || math.Float64bits(g) != math.Float64bits(v) {
			t.Errorf("state: optimizer scalar %s = %v, want %v", name, g, v)
		}
	}
	for name, v := range want.Extra {
		if g, ok := got.Extra[name]; name != "seconds" && name != "tf_seconds" && (!ok || math.Float64bits(g) != math.Float64bits(v)) {
			t.Errorf("state: %s = %v, want %v", name, g, v)
		}
	}
}

// withoutSeconds is a CSV log with its wall-clock column dropped.
func withoutSeconds(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// The timing columns differ between any two runs.
	timing := func(name string) bool { return name == "seconds" || name == "tf_seconds" }
	var b strings.Builder
	for _, r := range rows {
		var keep []string
		for i, v := range r {
			if i >= len(rows[0]) || !timing(rows[0][i]) {
				keep = append(keep, v)
			}
		}
		b.WriteString(strings.Join(keep, ",") + "\n")
	}
	return b.String()
}

// compareRuns checks that run folder got ended exactly as want: pictures and
// per-layer log byte for byte, metrics but for the seconds, and the state.
func compareRuns(t *testing.T, want, got string) {
	t.Helper()
	pngs, _ := filepath.Glob(filepath.Join(want, "*.png"))
	gotPngs, _ := filepath.Glob(filepath.Join(got, "*.png"))
	if len(pngs) != len(gotPngs) {
		t.Errorf("%d pictures, want %d", len(gotPngs), len(pngs))
	}
	for _, p := range append(pngs, filepath.Join(want, "layers.csv")) {
		name := filepath.Base(p)
		if name == "loss.png" || name == "compare.png" {
			continue // plots: the loss curve's axis shows the seconds
		}
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(got, name))
		if err != nil || len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs from the uninterrupted run's (%v)", name, err)
		}
	}
	if a, b := withoutSeconds(t, filepath.Join(want, "metrics.csv")), withoutSeconds(t, filepath.Join(got, "metrics.csv")); a != b {
		t.Errorf("metrics.csv differs:\nuninterrupted\n%s\nresumed\n%s", a, b)
	}
	compareStates(t, loadState(t, want), loadState(t, got))
}

// Issue 5 point 4: SIGKILL at a random iteration, resume, and the run ends
// exactly as one never stopped: final and checkpoint pictures, layers.csv,
// metrics.csv (every column but seconds) and the checkpoint state (image,
// Adam's moments and step), 5 trials of 5. Odd trials resume with -resume,
// even ones by running the same command again. The kill points come from a
// time-seeded generator; the seed is logged to replay a failure.
func TestKillAndResumeIsExact(t *testing.T) {
	graphstest.EndToEnd(t)
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KILL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("kill points from seed %d (KILL_SEED=%d replays them)", seed, seed)
	const iterations = 24
	sets := []string{fmt.Sprint("iterations=", iterations), "checkpoint_every=4", "optimizer=adam"}
	root := t.TempDir()
	mustRun(t, tinyRun(filepath.Join(root, "whole"), sets...)...)
	whole := filepath.Join(root, "whole", runName)

	for trial := 1; trial <= 5; trial++ {
		k := 1 + rng.IntN(iterations-4)
		t.Run(fmt.Sprint("trial ", trial), func(t *testing.T) {
			t.Parallel()
			var out, dir string
			var st rundir.Status
			for attempt := 1; ; attempt++ {
				out = filepath.Join(root, fmt.Sprintf("trial%d.%d", trial, attempt))
				dir = filepath.Join(out, runName)
				p := start(t, tinyRun(out, sets...)...)
				if !p.waitFor(iteration(k)) {
					_, stderr, code := p.wait()
					t.Fatalf("trial %d: runner ended (exit %d) before iteration %d: %s", trial, code, k, stderr)
				}
				p.cmd.Process.Signal(syscall.SIGKILL)
				_, _, code := p.wait()
				var err error
				if st, err = rundir.ReadStatus(dir); err != nil {
					t.Fatal(err)
				}
				if code == -1 && st.State != rundir.Done {
					break
				}
				// On a loaded machine the log can reach the test after
				// the last iterations ran: kill earlier.
				if attempt == 3 {
					t.Fatalf("trial %d: the runner finished before SIGKILL three times", trial)
				}
				t.Logf("trial %d: the runner finished before SIGKILL at iteration %d; again, earlier", trial, k)
				k /= 2
			}
			if st.State != rundir.Running || !st.Stale {
				t.Errorf("trial %d: status after SIGKILL %+v: want running with a dead runner", trial, st)
			}
			how := "-resume"
			args := []string{"-resume", dir}
			if trial%2 == 0 {
				how, args = "the same command", tinyRun(out, sets...)
			}
			t.Logf("trial %d: SIGKILL after iteration %d (last checkpoint %d), resumed with %s", trial, k, st.Iteration, how)
			stdout := mustRun(t, args...)
			if st.Iteration > 0 && !strings.Contains(stdout, fmt.Sprintf("msg=resuming dir=%s iteration=%d", dir, st.Iteration)) {
				t.Errorf("trial %d: no resume from iteration %d in\n%s", trial, st.Iteration, stdout)
			}
			if !strings.Contains(stdout, "took over run folder "+dir) {
				t.Errorf("trial %d: the dead runner's lock was not reported taken over:\n%s", trial, stdout)
			}
			if st, err := rundir.ReadStatus(dir); err != nil || st.State != rundir.Done || st.Iteration != iterations {
				t.Errorf("trial %d: status %+v %v, want done at %d", trial, st, err, iterations)
			}
			compareRuns(t, whole, dir)
		})
	}

	// L-BFGS: a resume starts its curvature memory afresh, so the run is
	// not the uninterrupted one; it must still finish with a finite loss.
	k := 1 + rng.IntN(15)
	t.Run("lbfgs", func(t *testing.T) {
		t.Parallel()
		sets := []string{"iterations=20", "checkpoint_every=2", "optimizer=lbfgs"}
		out := filepath.Join(root, "lbfgs")
		dir := filepath.Join(out, runName)
		p := start(t, tinyRun(out, sets...)...)
		if !p.waitFor(iteration(k)) {
			_, stderr, code := p.wait()
			t.Fatalf("runner ended (exit %d) before iteration %d: %s", code, k, stderr)
		}
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait()
		st, _ := rundir.ReadStatus(dir)
		t.Logf("L-BFGS: SIGKILL after iteration %d (last checkpoint %d)", k, st.Iteration)
		mustRun(t, "-resume", dir)
		if st, err := rundir.ReadStatus(dir); err != nil || st.State != rundir.Done || st.Iteration != 20 {
			t.Errorf("status %+v %v, want done at 20", st, err)
		}
		rows := strings.Split(strings.TrimSpace(withoutSeconds(t, filepath.Join(dir, "metrics.csv"))), "\n")
		last := strings.Split(rows[len(rows)-1], ",")
		if total, err := strconv.ParseFloat(last[1], 64); err != nil || math.IsNaN(total) || math.IsInf(total, 0) || last[0] != "20" {
			t.Errorf("last row %q: want iteration 20 with a finite loss", rows[len(rows)-1])
		}
	})
}

// Issue 5 points 1 and 3: SIGTERM mid-run exits 143 with a checkpoint, and
// running the same command again (no -resume) resumes it; while that runner
// works, a second one on the same folder refuses in one line naming its pid
// and host, and the first finishes undisturbed, its files whole.
func TestSIGTERMThenSameCommandAndSecondRunner(t *testing.T) {
	graphstest.EndToEnd(t)
	t.Parallel()
	out := t.TempDir()
	dir := filepath.Join(out, runName)
	args := tinyRun(out, "iterations=60", "checkpoint_every=20")
	p := start(t, args...)
	if !p.waitFor(iteration(5)) {
		_, stderr, _ := p.wait()
		t.Fatalf("runner ended before iteration 5: %s", stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	stdout, stderr, code := p.wait()
	if code != 143 || stderr != "" || !strings.Contains(stdout, "resume with: runner -resume "+dir) {
		t.Fatalf("SIGTERM: exit %d (want 143), stderr %q\n%s", code, stderr, stdout)
	}
	st, err := rundir.ReadStatus(dir)
	if err != nil || st.State != rundir.Interrupted || st.Iteration < 5 {
		t.Fatalf("status after SIGTERM %+v %v: want interrupted at 5 or later", st, err)
	}

	first := start(t, args...) // the same command: resumes
	if !first.waitFor(fmt.Sprintf("msg=resuming dir=%s iteration=%d", dir, st.Iteration)) {
		_, stderr, code := first.wait()
		t.Fatalf("the same command did not resume (exit %d): %s", code, stderr)
	}
	if !first.waitFor(iteration(st.Iteration + 1)) {
		t.Fatal("the resumed runner ended at once")
	}
	// The first runner is paused while the second tries the folder, so the
	// second meets it mid-run however slowly it starts: a stopped process
	// still holds its lock, as a live one does.
	first.cmd.Process.Signal(syscall.SIGSTOP)
	host, _ := os.Hostname()
	stdout2, stderr2, code2 := runCmd(t, args...)
	first.cmd.Process.Signal(syscall.SIGCONT)
	want := fmt.Sprintf("runner: run folder %s is in use by pid %d on host %s since ", dir, first.cmd.Process.Pid, host)
	if code2 != 1 || !strings.HasPrefix(stderr2, want) || strings.Count(stderr2, "\n") != 1 {
		t.Errorf("second runner: exit %d, stderr %q, want one line starting %q\n%s", code2, stderr2, want, stdout2)
	}
	stdout, stderr, code = first.wait()
	if code != 0 || stderr != "" {
		t.Fatalf("the first runner, after the second was refused: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	if st, err := rundir.ReadStatus(dir); err != nil || st.State != rundir.Done || st.Iteration != 60 || st.PID != first.cmd.Process.Pid {
		t.Errorf("status %+v %v: want done at 60 by pid %d", st, err, first.cmd.Process.Pid)
	}
	rows := strings.Split(strings.TrimSpace(withoutSeconds(t, filepath.Join(dir, "metrics.csv"))), "\n")
	for i, r := range rows[1:] { // every iteration exactly once, in order
		if !strings.HasPrefix(r, strconv.Itoa(i)+",") {
			t.Fatalf("metrics.csv row %d is %q", i+1, r)
		}
	}
	if len(rows) != 62 {
		t.Errorf("metrics.csv has %d rows, want a header and 61", len(rows))
	}
	for _, name := range []string{"final.png", "styled_0060.png", "initial.png"} {
		if err := decodesAsPNG(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// A second signal ends the runner at once, with one line on stderr, and the
// last checkpoint stays whole (its CRC checks) and resumable.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	graphstest.EndToEnd(t)
	t.Parallel()
	out := t.TempDir()
	dir := filepath.Join(out, runName)
	// 400x300: an evaluation takes long enough for the second signal to
	// arrive before the first one's checkpoint is written.
	p := start(t, tinyRun(out, "width=400", "height=300", "iterations=50", "checkpoint_every=1")...)
	if !p.waitFor(iteration(1)) {
		_, stderr, _ := p.wait()
		t.Fatalf("runner ended before iteration 1: %s", stderr)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(20 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("second SIGINT: %v (the runner stopped before it)", err)
	}
	stdout, stderr, code := p.wait()
	if code != 130 || stderr != "runner: interrupt again: stopping now; the last checkpoint is intact\n" {
		t.Fatalf("exit %d (want 130), stderr %q\n%s", code, stderr, stdout)
	}
	st, err := rundir.ReadStatus(dir)
	if err != nil || st.State == rundir.Done {
		t.Fatalf("status %+v %v: want not done", st, err)
	}
	if s := loadState(t, dir); s.Iteration < 1 || s.Iteration != st.Iteration {
		t.Errorf("checkpoint at iteration %d, status says %d", s.Iteration, st.Iteration)
	}
}

func decodesAsPNG(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// hashes are every file under dir with its bytes, to show a run untouched.
func hashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			data, _ := os.ReadFile(path)
			m[path] = fmt.Sprintf("%x", crc32.ChecksumIEEE(data))
		}
		return err
	})
	return m
}

// Issue 5 point 8: the disk fills mid-run. On a 2 MiB tmpfs holding a
// finished run and a filler file, a run that checkpoints every iteration
// stops with one line naming the file, leaves the earlier run and its own
// last checkpoint whole, and resumes to the end once the filler is deleted.
func TestDiskFullMidRun(t *testing.T) {
	graphstest.EndToEnd(t)
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs needs root (run as root, e.g. in .ci/run)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs: %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})

	earlier := filepath.Join(mnt, "earlier")
	mustRun(t, tinyRun(mnt, "name=earlier", "iterations=4", "checkpoint_every=2")...)
	before := hashes(t, earlier)

	// Leave about 120 KiB: the run's start (config, pictures, logs, about
	// 20 KiB) fits, and its checkpoints (27 KiB of state each, three at once
	// while one replaces another, plus a picture) fill it a few in.
	var fs syscall.Statfs_t
	if err := syscall.Statfs(mnt, &fs); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	if size := int64(fs.Bavail)*fs.Bsize - 120<<10; size > 0 {
		if err := os.WriteFile(filler, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := tinyRun(mnt, "name=full", "iterations=20", "checkpoint_every=1")
	stdout, stderr, code := runCmd(t, args...)
	dir := filepath.Join(mnt, "full")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstderr %q\n%s", code, stderr, stdout)
	}
	if !strings.HasPrefix(stderr, "runner: write "+dir+"/") || !strings.Contains(stderr, "the disk is full") ||
		strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q: want one line naming a file of %s and saying the disk is full", stderr, dir)
	}
	t.Logf("disk full: %s", strings.TrimSpace(stderr))
	if after := hashes(t, earlier); !equalMaps(before, after) {
		t.Errorf("the earlier finished run changed: %d files before, %d after", len(before), len(after))
	}
	if st, err := rundir.ReadStatus(earlier); err != nil || st.State != rundir.Done {
		t.Errorf("earlier run: status %+v %v", st, err)
	}
	st, err := rundir.ReadStatus(dir)
	if err != nil || st.State == rundir.Done {
		t.Fatalf("full run: status %+v %v: want not done", st, err)
	}
	s := loadState(t, dir)
	if s.Iteration < 1 {
		t.Errorf("no checkpoint before the disk filled (iteration %d)", s.Iteration)
	}
	if err := decodesAsPNG(filepath.Join(dir, fmt.Sprintf("styled_%04d.png", s.Iteration))); err != nil {
		t.Errorf("the checkpoint's picture: %v", err)
	}
	t.Logf("stopped with the checkpoint of iteration %d whole (status %s)", s.Iteration, st.State)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	stdout = mustRun(t, args...)
	if !strings.Contains(stdout, fmt.Sprintf("msg=resuming dir=%s iteration=%d", dir, s.Iteration)) {
		t.Errorf("the rerun did not resume from iteration %d:\n%s", s.Iteration, stdout)
	}
	if st, err := rundir.ReadStatus(dir); err != nil || st.State != rundir.Done || st.Iteration != 20 {
		t.Errorf("after freeing space: status %+v %v, want done at 20", st, err)
	}
	if err := decodesAsPNG(filepath.Join(dir, "final.png")); err != nil {
		t.Error(err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// copyTiny copies the tiny model into dst, so a test can alter it.
func copyTiny(t *testing.T, dst string) {
	t.Helper()
	src := graphstest.TinyModel(t)
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// oldFormatModel is the tiny model claiming the exporter's first metadata
// format, as a model exported before the format changed does.
func oldFormatModel(t *testing.T, dir string) string {
	t.Helper()
	copyTiny(t, dir)
	for _, name := range []string{"saved_model.pb", filepath.Join("assets.extra", "metadata.json")} {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		old := bytes.ReplaceAll(data, []byte(`"styletransfer-vgg/2"`), []byte(`"styletransfer-vgg/1"`))
		if bytes.Equal(old, data) {
			t.Fatalf("%s: no metadata format to change", path)
		}
		os.WriteFile(path, old, 0o644)
	}
	return dir
}

// hostileModel is the tiny model with a WriteFile node its init op (run by
// TensorFlow's loader) depends on: loading it would write the file written.
func hostileModel(t *testing.T, dir, written string) string {
	t.Helper()
	copyTiny(t, dir)
	path := filepath.Join(dir, "saved_model.pb")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var saved corepb.SavedModel
	if err := proto.Unmarshal(data, &saved); err != nil {
		t.Fatal(err)
	}
	str := func(name, s string) *nodepb.NodeDef {
		return &nodepb.NodeDef{Name: name, Op: "Const", Attr: map[string]*attrpb.AttrValue{
			"dtype": {Value: &attrpb.AttrValue_Type{Type: typespb.DataType_DT_STRING}},
			"value": {Value: &attrpb.AttrValue_Tensor{Tensor: &tensorpb.TensorProto{
				Dtype: typespb.DataType_DT_STRING, StringVal: [][]byte{[]byte(s)}}}},
		}}
	}
	mg := saved.GetMetaGraphs()[0]
	g := mg.GetGraphDef()
	g.Node = append(g.Node, str("hostile_path", written), str("hostile_data", "written by the model"),
		&nodepb.NodeDef{Name: "hostile_write", Op: "WriteFile", Input: []string{"hostile_path", "hostile_data"}})
	init := mg.GetSignatureDef()["__saved_model_init_op"]
	if init == nil {
		t.Fatal("the tiny model has no init op")
	}
	for _, out := range init.GetOutputs() {
		for _, n := range g.Node {
			if n.GetName() == nodeName(out.GetName()) {
				n.Input = append(n.Input, "^hostile_write")
			}
		}
	}
	if data, err = proto.Marshal(&saved); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, data, 0o644)
	return dir
}

func nodeName(ref string) string { name, _, _ := strings.Cut(ref, ":"); return name }

// writePNG writes a small valid PNG.
func writePNG(t *testing.T, path string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 12))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b.Bytes(), 0o644)
	return b.Bytes()
}

// hugePNG is a 65-byte PNG whose header claims 60000x60000 pixels.
func hugePNG() []byte {
	chunk := func(typ string, data []byte) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
		return b.Bytes()
	}
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 60000), 60000)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

// badCase is one row of the README's table "Bad input and faults": what is
// given, the exit code and a piece of the one line the user sees.
type badCase struct {
	name string
	args func(t *testing.T, tmp string) []string // tmp: the case's scratch folder; -out goes under tmp/out
	code int
	want string
	// made: the case gets as far as a run folder (stopped mid-run, or
	// refused by an existing one); otherwise tmp/out must not exist.
	made bool
	// after checks more once the runner ended (nil: nothing more).
	after func(t *testing.T, tmp string)
	// serial: not at once with the other serial cases (they share a run folder).
	serial bool
}

// sweepConfig writes a sweep of the tiny model with the given sweep block.
func sweepConfig(t *testing.T, tmp, block string) string {
	t.Helper()
	path := filepath.Join(tmp, "sweep.yaml")
	cfg := "model: testdata/vgg19-tiny\ncontent: testdata/images/shipwreck.jpg\nstyle: testdata/images/starry_night.jpg\n" +
		"width: 32\nheight: 24\niterations: 2\nsweep:\n" + block
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// file writes data into tmp/name and returns its path.
func file(t *testing.T, tmp, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(tmp, name)
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// Issue 5 point 10: every bad input and fault of the README's table, tried
// against the real runner: the exit code, exactly one line on stderr (no Go
// trace) saying what is wrong and naming the file, key or folder, and
// nothing half-written. The faults that need a running runner (signals,
// SIGKILL, two runners, a full disk) are the tests above.
func TestBadInputTable(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	finishedOut := filepath.Join(shared, "finished")
	finished := filepath.Join(finishedOut, runName)
	mustRun(t, tinyRun(finishedOut, "iterations=2")...)
	finishedFiles := hashes(t, finished)
	untouched := func(t *testing.T, _ string) {
		if after := hashes(t, finished); !equalMaps(finishedFiles, after) {
			t.Errorf("the finished run changed")
		}
	}
	jpeg, err := os.ReadFile(graphstest.Picture(t, "starry_night.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	tiny := func(tmp string, sets ...string) []string { return tinyRun(filepath.Join(tmp, "out"), sets...) }
	cfg := func(tmp, name, text string) []string {
		return []string{"-config", file(t, tmp, name, []byte(text), 0o644), "-out", filepath.Join(tmp, "out")}
	}
	picture := func(name string, data []byte) func(*testing.T, string) []string {
		return func(t *testing.T, tmp string) []string { return tiny(tmp, "content="+file(t, tmp, name, data, 0o644)) }
	}
	validPNG := writePNG(t, filepath.Join(shared, "valid.png"))
	corruptJPEG := slices.Clone(jpeg)
	for i := 600; i < 2000; i++ {
		corruptJPEG[i] ^= 0x5a
	}
	sets := func(s ...string) func(*testing.T, string) []string {
		return func(t *testing.T, tmp string) []string { return tiny(tmp, s...) }
	}
	cases := []badCase{
		// configs
		{name: "config unknown key", code: 1, want: `unknown.yaml: unknown key "iteratons"`,
			args: func(t *testing.T, tmp string) []string { return cfg(tmp, "unknown.yaml", "iteratons: 3\n") }},
		{name: "config wrong type", code: 1, want: `wrongtype.yaml: key iterations: want an integer, got "many"`,
			args: func(t *testing.T, tmp string) []string { return cfg(tmp, "wrongtype.yaml", "iterations: many\n") }},
		{name: "config bad YAML", code: 1, want: "bad.yaml: not valid YAML: yaml: line 1",
			args: func(t *testing.T, tmp string) []string { return cfg(tmp, "bad.yaml", "content: [unclosed\n") }},
		{name: "config missing", code: 1, want: "config nope.yaml: no such file (looked here and under configs/)",
			args: func(t *testing.T, tmp string) []string { return []string{"-config", "nope.yaml"} }},
		{name: "config unreadable", code: 1, want: "locked.yaml",
			args: func(t *testing.T, tmp string) []string {
				if os.Geteuid() == 0 {
					t.Skip("skipped: root reads any file")
				}
				return []string{"-config", file(t, tmp, "locked.yaml", []byte("iterations: 1\n"), 0)}
			}},
		{name: "config empty", code: 1, want: "empty.yaml: key content: want a picture path",
			args: func(t *testing.T, tmp string) []string { return cfg(tmp, "empty.yaml", "") }},
		{name: "config a directory", code: 1, want: "is a folder: only regular files are read",
			args: func(t *testing.T, tmp string) []string { return []string{"-config", tmp} }},
		// -set
		{name: "set without =", code: 1, want: `-set "iterations": want key=value`, args: sets("iterations")},
		{name: "set unknown key", code: 1, want: `-set iteratons: unknown key "iteratons"`, args: sets("iteratons=3")},
		{name: "set bad YAML value", code: 1, want: "-set width: value is not valid YAML", args: sets("width=[1")},
		{name: "set wrong type", code: 1, want: `-set seed: key seed: want an integer, got "abc"`, args: sets("seed=abc")},
		{name: "set unknown layer", code: 1, want: `key style_layers: model testdata/vgg19-tiny has no layer "conv9_9"`, args: sets("style_layers.conv9_9=1")},
		// pictures
		{name: "picture missing", code: 1, want: "content picture: open nope.jpg: no such file or directory", args: sets("content=nope.jpg")},
		{name: "picture empty", code: 1, want: "empty.png: empty file, not a picture", args: picture("empty.png", nil)},
		{name: "picture truncated PNG", code: 1, want: "cut.png: corrupt or truncated PNG picture (png: invalid format: not enough pixel data)", args: picture("cut.png", validPNG[:len(validPNG)/2])},
		{name: "picture corrupt JPEG", code: 1, want: "corrupt.jpg: truncated or corrupt JPEG picture (its data ends before the picture does)", args: picture("corrupt.jpg", corruptJPEG)},
		{name: "picture truncated JPEG", code: 1, want: "cut.jpg: corrupt or truncated JPEG picture", args: picture("cut.jpg", jpeg[:len(jpeg)/3])},
		{name: "picture text named .png", code: 1, want: "text.png: not a JPEG, PNG or GIF picture", args: picture("text.png", []byte("hello, not a picture\n"))},
		{name: "picture 60000x60000 header", code: 1, want: "huge.png: PNG picture of 60000x60000 pixels (3600 megapixels) is over the limit of 100 megapixels",
			args: func(t *testing.T, tmp string) []string {
				return tiny(tmp, "style="+file(t, tmp, "huge.png", hugePNG(), 0o644))
			}},
		{name: "picture over max_pixels", code: 1, want: "shipwreck.jpg: JPEG picture of 384x265 pixels (0.10176 megapixels) is over the limit of 0.0001 megapixels", args: sets("max_pixels=100")},
		{name: "picture a directory", code: 1, want: "content picture: testdata/images: a folder, not a picture", args: sets("content=testdata/images")},
		// models
		{name: "model missing", code: 1, want: "model testdata/nomodel: no such folder (export one with `make export`)", args: sets("model=testdata/nomodel")},
		{name: "model not a SavedModel", code: 1, want: "model testdata/images: not a SavedModel folder (no saved_model.pb)", args: sets("model=testdata/images")},
		{name: "model garbage saved_model.pb", code: 1, want: "saved_model.pb is not a SavedModel",
			args: func(t *testing.T, tmp string) []string {
				os.Mkdir(filepath.Join(tmp, "m"), 0o755)
				return tiny(tmp, "model="+filepath.Dir(file(t, tmp, "m/saved_model.pb", []byte("not a protobuf"), 0o644)))
			}},
		{name: "model saved_model.pb linked to /dev/zero", code: 1, want: "saved_model.pb is not a regular file (a device)",
			args: func(t *testing.T, tmp string) []string {
				dir := filepath.Join(tmp, "zero")
				copyTiny(t, dir)
				os.Remove(filepath.Join(dir, "saved_model.pb"))
				if err := os.Symlink("/dev/zero", filepath.Join(dir, "saved_model.pb")); err != nil {
					t.Fatal(err)
				}
				return tiny(tmp, "model="+dir)
			}},
		{name: "model old format", code: 1, want: `metadata format "styletransfer-vgg/1", this runner reads "styletransfer-vgg/2" (re-export the model)`,
			args: func(t *testing.T, tmp string) []string {
				return tiny(tmp, "model="+oldFormatModel(t, filepath.Join(tmp, "v1")))
			}},
		{name: "model with a file-writing op", code: 1, want: "op WriteFile (node hostile_write) is not allowed: it reads or writes files (pass -trust-model to load it anyway)",
			args: func(t *testing.T, tmp string) []string {
				return tiny(tmp, "model="+hostileModel(t, filepath.Join(tmp, "hostile"), filepath.Join(tmp, "written")))
			},
			after: func(t *testing.T, tmp string) {
				written := filepath.Join(tmp, "written")
				if _, err := os.Stat(written); !os.IsNotExist(err) {
					t.Errorf("the refused model wrote its file")
				}
				// Trusted, the same model does write it as it loads (the run
				// then stops on a missing picture): the refusal is what saved it.
				runCmd(t, append(tiny(tmp, "model="+filepath.Join(tmp, "hostile"), "content=nope.jpg"), "-trust-model")...)
				if _, err := os.Stat(written); err != nil {
					t.Errorf("the hostile model is not hostile: loaded with -trust-model it wrote nothing (%v)", err)
				}
			}},
		// values
		{name: "negative iterations", code: 1, want: "-set iterations: key iterations: want at least 1", args: sets("iterations=-5")},
		{name: "noise_ratio 2", code: 1, want: "-set noise_ratio: key noise_ratio: want between 0 and 1", args: sets("noise_ratio=2")},
		{name: "device gpu on a CPU host", code: 1, want: "device gpu: TensorFlow sees no GPU on this host", args: sets("device=gpu")},
		{name: "unknown normalization", code: 1, want: `-set normalization: key normalization: want one of "notebook"`, args: sets("normalization=weird")},
		{name: "unknown optimizer", code: 1, want: `-set optimizer: key optimizer: want one of "adam", "lbfgs"`, args: sets("optimizer=sgd")},
		{name: "learning_rate 1e6 diverges", code: 1, made: true,
			want: "iteration 1: the loss grew from ", args: sets("learning_rate=1e6", "iterations=20", "checkpoint_every=1"),
			after: func(t *testing.T, tmp string) {
				st, err := rundir.ReadStatus(filepath.Join(tmp, "out", runName))
				if err != nil || st.State != rundir.Failed || !strings.Contains(st.Error, "divergence_factor") {
					t.Errorf("status %+v %v: want failed, saying why", st, err)
				}
			}},
		{name: "style_weight 1e38", code: 1, made: true,
			want: "iteration 0: the loss of the start picture is +Inf: the weights (content_weight, style_weight, tv_weight, layer weights) are too large for float32", args: sets("style_weight=1e38")},
		// run folders
		{name: "finished run without -overwrite", code: 1, made: true, after: untouched, serial: true,
			want: "run folder " + finished + " holds a finished run (config ",
			args: func(t *testing.T, tmp string) []string { return tinyRun(finishedOut, "iterations=2") }},
		{name: "finished run, another config", code: 1, made: true, after: untouched, serial: true,
			want: "run folder " + finished + " holds a finished run",
			args: func(t *testing.T, tmp string) []string { return tinyRun(finishedOut, "iterations=3") }},
		{name: "-resume a finished run", code: 1, made: true, after: untouched,
			want: "-resume " + finished + ": the run is finished; nothing to resume",
			args: func(t *testing.T, tmp string) []string { return []string{"-resume", finished} }},
		{name: "-resume a folder that is not a run", code: 1, want: "-resume testdata: not a run folder (no status.json)",
			args: func(t *testing.T, tmp string) []string { return []string{"-resume", "testdata"} }},
		{name: "-resume with -set", code: 1, want: "-resume takes the config the run recorded: give no -config, -set or -out with it",
			args: func(t *testing.T, tmp string) []string { return []string{"-resume", finished, "-set", "iterations=9"} }},
		{name: "unfinished run of another config", code: 1, made: true,
			want: "holds an unfinished (failed) run of another config",
			args: func(t *testing.T, tmp string) []string {
				if _, _, code := runCmd(t, tiny(tmp, "style_weight=1e38")...); code != 1 {
					t.Fatalf("setup: exit %d", code)
				}
				return tiny(tmp, "style_weight=1e37")
			}},
		{name: "folder of other files", code: 1, made: true,
			want: "holds files but no status.json (not a run of this runner, or one from an older version)",
			args: func(t *testing.T, tmp string) []string {
				os.MkdirAll(filepath.Join(tmp, "out", runName), 0o755)
				file(t, tmp, "out/"+runName+"/notes.txt", []byte("mine\n"), 0o644)
				return tiny(tmp)
			},
			after: func(t *testing.T, tmp string) {
				if data, err := os.ReadFile(filepath.Join(tmp, "out", runName, "notes.txt")); string(data) != "mine\n" {
					t.Errorf("the folder's own file changed: %q %v", data, err)
				}
			}},
		{name: "-out is a file", code: 1, want: "create run folder: mkdir README.md: not a directory",
			args: func(t *testing.T, tmp string) []string { return tinyRun("README.md") }},
		// sweeps
		{name: "sweep empty grid", code: 1, want: "key sweep.grid: empty: name at least one key with a list of values",
			args: func(t *testing.T, tmp string) []string {
				return []string{"-config", sweepConfig(t, tmp, "  grid: {}\n"), "-out", filepath.Join(tmp, "out")}
			}},
		{name: "sweep unknown key in grid", code: 1, want: `key sweep.grid.style_wieght, value 0 (1): -set style_wieght: unknown key "style_wieght"`,
			args: func(t *testing.T, tmp string) []string {
				return []string{"-config", sweepConfig(t, tmp, "  grid:\n    style_wieght: [1, 2]\n"), "-out", filepath.Join(tmp, "out")}
			}},
		{name: "sweep unequal zip lists", code: 1, want: "key sweep.zip.tv_weight: has 1 values but sweep.zip.style_weight has 2",
			args: func(t *testing.T, tmp string) []string {
				return []string{"-config", sweepConfig(t, tmp, "  zip:\n    style_weight: [1, 2]\n    tv_weight: [1]\n"), "-out", filepath.Join(tmp, "out")}
			}},
		{name: "sweep -index out of range", code: 1, want: "-index 5: out of range: the sweep has 2 points (0..1)",
			args: func(t *testing.T, tmp string) []string {
				return []string{"-config", sweepConfig(t, tmp, "  grid:\n    style_weight: [1, 2]\n"), "-out", filepath.Join(tmp, "out"), "-index", "5"}
			}},
		{name: "sweep -index negative", code: 1, want: `invalid value "-3" for flag -index: want a point number, 0 or more`,
			args: func(t *testing.T, tmp string) []string {
				return []string{"-config", sweepConfig(t, tmp, "  grid:\n    style_weight: [1, 2]\n"), "-out", filepath.Join(tmp, "out"), "-index", "-3"}
			}},
		{name: "sweep flag on a plain config", code: 1, want: "config configs/experiments/paper.yaml has no sweep: block: -list",
			args: func(t *testing.T, tmp string) []string { return []string{"-config", "experiments/paper.yaml", "-list"} }},
		// the command line
		{name: "unknown flag", code: 1, want: "flag provided but not defined: -bogus (see runner -h)",
			args: func(t *testing.T, tmp string) []string { return []string{"-bogus"} }},
		{name: "extra argument", code: 1, want: `unexpected argument "paper.yaml" (see runner -h)`,
			args: func(t *testing.T, tmp string) []string {
				return []string{"-config", "experiments/paper.yaml", "paper.yaml"}
			}},
	}
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("two cases named %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			if !tc.serial {
				t.Parallel()
			}
			tmp := t.TempDir()
			args := tc.args(t, tmp)
			stdout, stderr, code := runCmd(t, args...)
			t.Logf("exit %d: %s", code, strings.TrimSpace(stderr)) // what the user sees, for the README's table
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstderr %q\n%s", code, tc.code, stderr, stdout)
			}
			if !strings.HasPrefix(stderr, "runner: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("stderr %q: want exactly one line starting runner:", stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not say %q", stderr, tc.want)
			}
			if strings.Contains(stderr+stdout, "goroutine ") || strings.Contains(stderr+stdout, "panic") {
				t.Errorf("a Go trace reached the user:\n%s%s", stdout, stderr)
			}
			if _, err := os.Stat(filepath.Join(tmp, "out")); !tc.made && !os.IsNotExist(err) {
				t.Errorf("a refused run left %s", filepath.Join(tmp, "out"))
			}
			if tc.after != nil {
				tc.after(t, tmp)
			}
		})
	}
}
