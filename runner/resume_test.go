package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/runner/rundir"
)

// cancelAt cancels a context when the log reports an iteration.
type cancelAt struct {
	line   string
	cancel context.CancelFunc
}

func (c cancelAt) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(c.line)) {
		c.cancel()
	}
	return len(p), nil
}

// A run interrupted (Ctrl-C) and run again resumes from where it stopped and
// ends with the same log and picture as a run never stopped (Adam: the
// checkpoint holds the image and the moments bit for bit).
func TestInterruptedRunResumesExactly(t *testing.T) {
	m := loadTiny(t)
	sets := []string{"width=32", "height=24", "iterations=6", "checkpoint_every=2", "log_every=1", "name=r"}
	whole, err := Run(context.Background(), tinyConfig(t, t.TempDir(), sets...), m, io.Discard)
	if err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	first, err := Run(ctx, tinyConfig(t, out, sets...), m, cancelAt{"msg=iteration it=3 ", cancel})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Interrupted || first.Iterations != 3 {
		t.Fatalf("first part: %+v", first)
	}
	if st, err := rundir.ReadStatus(first.Dir); err != nil || st.State != rundir.Interrupted || st.Iteration != 3 {
		t.Fatalf("status after the interrupt: %+v %v", st, err)
	}
	var log bytes.Buffer
	rest, err := Run(context.Background(), tinyConfig(t, out, sets...), m, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming") || rest.Iterations != 6 || rest.Evaluations != whole.Evaluations {
		t.Fatalf("resumed run: %+v\n%s", rest, log.String())
	}
	if st, err := rundir.ReadStatus(rest.Dir); err != nil || st.State != rundir.Done {
		t.Errorf("status: %+v %v", st, err)
	}
	strip := func(rows [][]string) string { // drop the timing columns: seconds, tf_seconds
		var b strings.Builder
		for _, r := range rows {
			b.WriteString(strings.Join(append(r[:5:5], r[6]), ",") + "\n")
		}
		return b.String()
	}
	a, b := strip(readCSV(t, filepath.Join(whole.Dir, "metrics.csv"))), strip(readCSV(t, filepath.Join(rest.Dir, "metrics.csv")))
	if a != b {
		t.Errorf("metrics differ:\nwhole\n%s\nresumed\n%s", a, b)
	}
	for _, name := range []string{"final.png", "styled_0006.png", "layers.csv"} {
		x, _ := os.ReadFile(filepath.Join(whole.Dir, name))
		y, _ := os.ReadFile(filepath.Join(rest.Dir, name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs after the resume", name)
		}
	}

	// A finished run is not replaced unless overwrite is set.
	if _, err := Run(context.Background(), tinyConfig(t, out, sets...), m, io.Discard); !errors.Is(err, rundir.ErrDone) {
		t.Errorf("rerun of a finished run: %v", err)
	}
	if _, err := Run(context.Background(), tinyConfig(t, out, append(sets, "overwrite=true")...), m, io.Discard); err != nil {
		t.Errorf("overwrite: %v", err)
	}
}
