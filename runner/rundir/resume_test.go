package rundir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// toyRun is a run loop shaped like the runner's (evaluate, record, step,
// checkpoint every few steps), on a small quadratic with a momentum
// optimizer, using the Folder the way the runner should: resume from the
// last state, cut the logs back to it, checkpoint = picture, CSV sync,
// SaveState. killAt, if >= 0, stops after that iteration's row until killed.
func toyRun(dir string, killAt int) error {
	const (
		n          = 300
		iterations = 40
		every      = 5
		lr         = 0.01
	)
	f, err := Open(dir, Options{ConfigID: "toy-1"})
	if err != nil {
		return err
	}
	defer f.Close()
	x, m := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%17) - 8
	}
	start := 0
	if f.Resumable() {
		s, err := f.LoadState()
		switch {
		case err == nil:
			x, m, start = s.Image, s.Optimizer.Vectors["m"], s.Iteration
		case !errors.Is(err, ErrNoState): // none yet: start over
			return err
		}
	}
	metrics, err := f.AppendCSV("metrics.csv", "iteration,loss,x0")
	if err != nil {
		return err
	}
	defer metrics.Close()
	if err := metrics.TruncateAfter(start - 1); err != nil {
		return err
	}
	grad := make([]float32, n)
	for it := start; ; it++ {
		var loss float32
		for i, v := range x { // loss = sum (x - 0.5 i)^2 / n
			d := v - 0.5*float32(i%7)
			loss += d * d / n
			grad[i] = 2 * d / n
		}
		metrics.Begin(it)
		metrics.Float32(loss)
		metrics.Float32(x[0])
		if err := metrics.End(); err != nil {
			return err
		}
		if it == killAt {
			fmt.Println("ready")
			time.Sleep(time.Hour)
		}
		if it == iterations {
			break
		}
		for i := range x {
			m[i] = 0.9*m[i] + grad[i]
			x[i] -= lr * 100 * m[i]
		}
		if (it+1)%every == 0 {
			picture := make([]byte, 4*n)
			for i, v := range x {
				picture[4*i] = byte(int(v*10) & 0xff)
			}
			if err := f.WriteFile(fmt.Sprintf("styled_%04d.bin", it+1), picture); err != nil {
				return err
			}
			if err := metrics.Sync(); err != nil {
				return err
			}
			s := State{Iteration: it + 1, Width: n / 3, Height: 1, Image: x,
				Optimizer: Optimizer{Name: "momentum", Vectors: map[string][]float32{"m": m}, Scalars: map[string]float64{"t": float64(it + 1)}}}
			if err := f.SaveState(s); err != nil {
				return err
			}
		}
	}
	if err := f.SaveState(State{Iteration: iterations, Width: n / 3, Height: 1, Image: x,
		Optimizer: Optimizer{Name: "momentum", Vectors: map[string][]float32{"m": m}}}); err != nil {
		return err
	}
	if err := metrics.Close(); err != nil {
		return err
	}
	return f.Finish()
}

// A run killed with SIGKILL at any iteration and resumed ends with the same
// log, bit for bit, the same final state and checkpoints as a run never
// interrupted.
func TestKillAndResumeIsExact(t *testing.T) {
	ref := filepath.Join(t.TempDir(), "ref")
	if err := toyRun(ref, -1); err != nil {
		t.Fatal(err)
	}
	refLog := read(t, filepath.Join(ref, "metrics.csv"))
	refState, _ := readState(filepath.Join(ref, stateName), "toy-1", 1<<30)
	refPic := read(t, filepath.Join(ref, "styled_0035.bin"))
	for _, killAt := range []int{0, 3, 4, 5, 22, 39, 40} {
		dir := filepath.Join(t.TempDir(), "run")
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "RUNDIR_HELPER=loop", "RUNDIR_DIR="+dir, "RUNDIR_KILL_AT="+strconv.Itoa(killAt))
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line := make([]byte, 6)
		if _, err := out.Read(line); err != nil || string(line) != "ready\n" {
			t.Fatalf("kill at %d: helper said %q %v", killAt, line, err)
		}
		kill(t, cmd)
		if st, _ := ReadStatus(dir); st.State != Running || !st.Stale {
			t.Errorf("kill at %d: status %+v", killAt, st)
		}
		if err := toyRun(dir, -1); err != nil {
			t.Fatalf("resume after kill at %d: %v", killAt, err)
		}
		if got := read(t, filepath.Join(dir, "metrics.csv")); got != refLog {
			t.Errorf("kill at %d: metrics.csv differs:\n%s\nwant\n%s", killAt, got, refLog)
		}
		got, err := readState(filepath.Join(dir, stateName), "toy-1", 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		sameState(t, got, refState)
		if read(t, filepath.Join(dir, "styled_0035.bin")) != refPic {
			t.Errorf("kill at %d: checkpoint differs", killAt)
		}
		if st, _ := ReadStatus(dir); st.State != Done || st.Iteration != 40 {
			t.Errorf("kill at %d: final status %+v", killAt, st)
		}
	}
	if !bytes.HasPrefix([]byte(refLog), []byte("iteration,loss,x0\n0,")) {
		t.Errorf("reference log %q", refLog[:40])
	}
}
