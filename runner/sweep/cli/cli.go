// Package cli is the sweep part of the runner's command line: the flags
// (-list, -index, -summary, -status, -slurm, -slurm-dry-run,
// -slurm-parallel, -k8s) and what each does, so that cmd/runner only
// registers them and passes the function that runs one experiment.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/sweep"
	"github.com/styletransfer/gostyle/runner/sweep/k8s"
	"github.com/styletransfer/gostyle/runner/sweep/slurm"
)

// Flags are the sweep flags.
type Flags struct {
	List          bool
	Index         int
	Summary       bool
	Status        bool
	Slurm         bool
	SlurmDryRun   bool
	SlurmParallel int
	K8s           bool
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.BoolVar(&f.List, "list", false, "sweep: print the points, one a line numbered from 0, and exit")
	// -1 means no -index; a negative number given must not mean "every point".
	f.Index = -1
	fs.Func("index", "sweep: run point `I` only (a point already done is skipped at once)", func(s string) error {
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 {
			return errors.New("want a point number, 0 or more")
		}
		f.Index = i
		return nil
	})
	fs.BoolVar(&f.Summary, "summary", false, "sweep: rebuild summary.csv, summary.json and contact-sheet.png from the run folders")
	fs.BoolVar(&f.Status, "status", false, "sweep: print each point's state from the run folders")
	fs.BoolVar(&f.Slurm, "slurm", false, "sweep: submit the sweep to Slurm as a job array (sbatch)")
	fs.BoolVar(&f.SlurmDryRun, "slurm-dry-run", false, "sweep: print the sbatch script instead of submitting it")
	fs.IntVar(&f.SlurmParallel, "slurm-parallel", 0, "sweep: array tasks running at once (overrides slurm.parallel; 0: the config's)")
	fs.BoolVar(&f.K8s, "k8s", false, "sweep: print a Kubernetes Indexed Job manifest for the sweep")
}

// Any reports whether a sweep flag was given.
func (f Flags) Any() bool {
	return f.List || f.Index >= 0 || f.Summary || f.Status || f.Slurm || f.SlurmDryRun || f.SlurmParallel != 0 || f.K8s
}

// IsSweep reports whether a config has a top-level sweep block.
// A config that is not valid YAML is not one: Load says what is wrong.
func IsSweep(data []byte) bool {
	blocks, _, err := config.Split(config.Source{Data: data})
	_, ok := blocks["sweep"]
	return err == nil && ok
}

// RunPoint runs one point's experiment: p.Config is its resolved config,
// Name set to its run folder. batch is every point this invocation runs
// (the whole sweep, or the one of -index), so that a model loaded once can
// be prepared for all the points sharing it. It returns Interrupted when
// the context stopped it and Busy when another runner holds the point's
// folder, and must leave the run folder's status marker set.
type RunPoint func(ctx context.Context, p sweep.Point, batch []sweep.Point) (sweep.PointResult, error)

// Env is what the command line hands over.
type Env struct {
	ConfigArg string        // -config as the user gave it, passed on to cluster tasks
	Source    config.Source // the config found
	Sets      []string      // -set flags
	Out       string        // -out flag ("" if none)
	Stdout    io.Writer
	Status    sweep.StatusReader // the run-folder package's marker reader
	Run       RunPoint           // nil is fine for -list, -status, -summary, -slurm, -k8s
	PassOn    []string           // more flags every cluster task gets (e.g. -trust-model)
}

// Main does what the flags ask of a sweep config. Without an action flag it
// runs every point, then writes the summary and the contact sheet. -list
// and -index compute only the points they print or run, so they cost the
// same for any sweep size; -list stops when ctx is done.
func (f Flags) Main(ctx context.Context, e Env) error {
	if n := count(f.List, f.Summary, f.Status, f.Slurm || f.SlurmDryRun, f.K8s, f.Index >= 0); n > 1 {
		return errors.New("-list, -index, -summary, -status, -slurm/-slurm-dry-run and -k8s: give one at a time")
	}
	if f.SlurmParallel < 0 {
		return fmt.Errorf("-slurm-parallel %d: want 0 or more", f.SlurmParallel)
	}
	plan, err := sweep.Load(e.Source, e.Sets, e.Out)
	if err != nil {
		return err
	}
	switch {
	case f.List:
		return plan.Each(ctx, func(p sweep.Point) error {
			_, err := fmt.Fprintf(e.Stdout, "%d\t%s\t%s\n", p.Index, p.ID, strings.Join(p.Overrides(), " "))
			return err
		})
	case f.Status:
		points, err := plan.All(ctx)
		if err != nil {
			return err
		}
		rows, err := sweep.Summarize(plan.Output, points, e.Status)
		if err != nil {
			return err
		}
		return sweep.Table(e.Stdout, rows)
	case f.Summary:
		return summarize(ctx, plan, e, true)
	case f.Slurm || f.SlurmDryRun:
		return f.slurm(ctx, plan, e)
	case f.K8s:
		m, err := k8s.Manifest(k8s.Job{Name: plan.Spec.Name, Points: plan.Len(), Config: e.Source.Data,
			ConfigName: path.Base(filepath.ToSlash(e.Source.Name)), Args: taskArgs(e, false)[2:], Output: plan.Output, Block: plan.Spec.K8s})
		if err != nil {
			return err
		}
		_, err = e.Stdout.Write(m)
		return err
	}
	if e.Run == nil {
		return errors.New("sweep: no runner")
	}
	var batch []sweep.Point
	if f.Index >= 0 { // refused before anything is written (the summary below would be)
		p, err := plan.Point(f.Index)
		if err != nil {
			return err
		}
		batch = []sweep.Point{p}
	} else if batch, err = plan.All(ctx); err != nil {
		return err
	}
	run := func(ctx context.Context, p sweep.Point) (sweep.PointResult, error) { return e.Run(ctx, p, batch) }
	outcomes, runErr := sweep.Run(ctx, batch, run, sweep.Options{Output: plan.Output, Status: e.Status, Total: plan.Len(), Log: e.Stdout})
	if errors.Is(runErr, context.Canceled) {
		return runErr
	}
	if f.Index >= 0 && runErr == nil && len(outcomes) == 1 && outcomes[0].State != sweep.Done {
		return nil // a requeued task whose point is done, or another runner's: nothing changed
	}
	// Each finished task rebuilds the summary, so after a cluster run the
	// last task to end leaves a complete one (-summary rebuilds it anyway);
	// in a sweep too large for that to be cheap, -summary alone does.
	if f.Index >= 0 && plan.Len() > sweep.DefaultMaxPoints {
		fmt.Fprintf(e.Stdout, "summary: not rebuilt by one task of %d points; run -summary when the sweep ends\n", plan.Len())
		return runErr
	}
	if err := summarize(ctx, plan, e, f.Index < 0); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// summarize writes summary.csv, summary.json and contact-sheet.png; verbose
// prints the table too.
func summarize(ctx context.Context, plan sweep.Plan, e Env, verbose bool) error {
	points, err := plan.All(ctx)
	if err != nil {
		return err
	}
	rows, err := sweep.Summarize(plan.Output, points, e.Status)
	if err != nil {
		return err
	}
	if err := sweep.WriteSummary(plan.Output, rows); err != nil {
		return err
	}
	if err := sweep.DefaultSheet.WriteContactSheet(plan.Output, plan.Spec, points, rows); err != nil {
		return err
	}
	if verbose {
		if err := sweep.Table(e.Stdout, rows); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "summary: %s, %s, %s\n", filepath.Join(plan.Output, sweep.SummaryCSV),
			filepath.Join(plan.Output, sweep.SummaryJSON), filepath.Join(plan.Output, sweep.ContactSheet))
	}
	return nil
}

func (f Flags) slurm(ctx context.Context, plan sweep.Plan, e Env) error {
	exe, err := slurm.Executable()
	if err != nil {
		return fmt.Errorf("slurm: the runner's own path: %w", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	job := slurm.Job{Name: plan.Spec.Name, Points: plan.Len(), Parallel: f.SlurmParallel, Runner: exe,
		Args: taskArgs(e, true), Workdir: wd, Output: plan.Output, Block: plan.Spec.Slurm}
	script, id, err := slurm.Submit(ctx, job, f.SlurmDryRun)
	if err != nil {
		return err
	}
	if f.SlurmDryRun {
		_, err := io.WriteString(e.Stdout, script)
		return err
	}
	// The hints repeat what the sweep was submitted with: -status of another
	// -out or -set would read another sweep.
	follow := slurm.Command(append(append([]string{"runner"}, taskArgs(e, true)...), "-status"))
	fmt.Fprintf(e.Stdout, "submitted job array %s: %d tasks, logs in %s/\n", id, plan.Len(), job.LogDir())
	fmt.Fprintf(e.Stdout, "follow with: %s\n", follow)
	fmt.Fprintf(e.Stdout, "resubmit point I alone: %s\n", slurm.Command([]string{"sbatch", "--array=I", job.ScriptPath()}))
	return nil
}

// taskArgs are the arguments each cluster task passes before -index: the
// config as the user named it, the -set flags and, with withOut, -out.
// (k8s drops the first two, the config as named here, for its ConfigMap's copy.)
func taskArgs(e Env, withOut bool) []string {
	args := []string{"-config", e.ConfigArg}
	for _, s := range e.Sets {
		args = append(args, "-set", s)
	}
	if withOut && e.Out != "" {
		args = append(args, "-out", e.Out)
	}
	return append(args, e.PassOn...)
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
