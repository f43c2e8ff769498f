// Package slurm writes and submits the sbatch script that runs a sweep as a
// Slurm job array: task i runs `runner -config S -index i`, so a task that is
// requeued after preemption finds its point done (a no-op) or reruns it.
package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/styletransfer/gostyle/runner/sweep"
)

// Job is what the script needs: the sweep, how to start the runner, and
// the `slurm:` block of the config.
type Job struct {
	Name     string      // job name (the sweep's name)
	Points   int         // array size
	Parallel int         // tasks at once (-slurm-parallel); 0: the block's, else no limit
	Runner   string      // the runner binary, absolute so tasks find it
	Args     []string    // runner arguments before -index: -config S, -set ..., -out ...
	Workdir  string      // tasks start here (where the sweep was submitted)
	Output   string      // the sweep folder; logs go to <Output>/slurm/
	Block    sweep.Slurm // partition, time, GPUs, CPUs, memory, ...
}

// LogDir is where task logs go, under the sweep folder.
func (j Job) LogDir() string { return filepath.Join(j.Output, "slurm") }

// ScriptPath is where Submit writes the script: resubmitting it with
// `sbatch --array=I` reruns point I alone.
func (j Job) ScriptPath() string { return filepath.Join(j.LogDir(), "sweep.sbatch") }

// Script is the sbatch script for j.
func Script(j Job) (string, error) {
	if j.Points < 1 {
		return "", errors.New("slurm: the sweep has no points")
	}
	if j.Runner == "" || j.Workdir == "" || j.Output == "" {
		return "", errors.New("slurm: runner, workdir and output must be set")
	}
	par := j.Parallel
	if par == 0 {
		par = j.Block.Parallel
	}
	if par < 0 {
		return "", fmt.Errorf("slurm: parallel %d: want 0 (no limit) or more", par)
	}
	array := fmt.Sprintf("0-%d", j.Points-1)
	if par > 0 {
		array += fmt.Sprintf("%%%d", par)
	}
	logs := j.LogDir()
	if !filepath.IsAbs(logs) {
		logs = filepath.Join(j.Workdir, logs)
	}
	var b strings.Builder
	opt := func(format string, args ...any) { fmt.Fprintf(&b, "#SBATCH "+format+"\n", args...) }
	b.WriteString("#!/bin/bash\n")
	fmt.Fprintf(&b, "# Sweep %s: %d points as a job array; task i runs point i.\n", j.Name, j.Points)
	opt("--job-name=%s", jobName(j.Name))
	opt("--array=%s", array)
	opt("--output=%s/%%A_%%a.out", logs)
	opt("--open-mode=append")
	// A preempted task goes back in the queue. 60 s before the time limit
	// the batch shell alone gets SIGUSR1 (a signal of its own, so scancel's
	// SIGTERM is never taken for it): it passes SIGTERM on, the runner saves
	// and stops, and the shell requeues the task.
	opt("--requeue")
	opt("--signal=B:USR1@60")
	opt("--ntasks=1")
	blk := j.Block
	if blk.Partition != "" {
		opt("--partition=%s", blk.Partition)
	}
	if blk.Account != "" {
		opt("--account=%s", blk.Account)
	}
	if blk.Time != "" {
		opt("--time=%s", blk.Time)
	}
	if blk.GPUs > 0 {
		opt("--gres=gpu:%d", blk.GPUs)
	}
	if blk.CPUs > 0 {
		opt("--cpus-per-task=%d", blk.CPUs)
	}
	if blk.Mem != "" {
		opt("--mem=%s", blk.Mem)
	}
	for _, o := range blk.Options {
		if strings.ContainsAny(o, "\n\r") || !strings.HasPrefix(o, "-") {
			return "", fmt.Errorf("slurm: key slurm.options: %q is not one sbatch option", o)
		}
		opt("%s", o)
	}
	for _, s := range []string{blk.Partition, blk.Account, blk.Time, blk.Mem} {
		if strings.ContainsAny(s, "\n\r ") {
			return "", fmt.Errorf("slurm: block value %q holds a space or a line break", s)
		}
	}
	b.WriteString("\nset -u\n")
	fmt.Fprintf(&b, "cd %s || exit 1\n", quote(j.Workdir))
	// The submitting shell's TF_CPP_MIN_LOG_LEVEL would bring TensorFlow's
	// start-up notices into every task log; slurm.setup may set it again.
	b.WriteString("unset TF_CPP_MIN_LOG_LEVEL\n")
	if blk.Setup != "" {
		b.WriteString(strings.TrimRight(blk.Setup, "\n") + "\n")
	}
	args := append([]string{quote(j.Runner)}, quoteAll(j.Args)...)
	fmt.Fprintf(&b, `
# The runner runs in the background so that this shell can catch the
# time-limit warning (SIGUSR1, sent to this shell only), pass SIGTERM on and
# requeue the task once the runner has saved and stopped. scancel's SIGTERM
# reaches the runner from Slurm itself: this shell only waits for it, never
# forwards a second one (which would stop it before it marks its point) and
# never requeues, so a cancelled task stays cancelled and its point resumable.
# A SIGUSR1 that lands before $! is read is passed on right after.
limit=0
forwarded=0
pid=
forward() {
  if [ "$limit" = 1 ] && [ "$forwarded" = 0 ] && [ -n "$pid" ]; then
    forwarded=1
    kill -TERM "$pid" 2>/dev/null
  fi
}
on_limit() {
  limit=1
  forward
}
trap on_limit USR1
trap : TERM
%s -index "$SLURM_ARRAY_TASK_ID" &
pid=$!
forward
rc=127
while :; do
  wait "$pid"
  last=$?
  # wait returns early (above 128) when a trap ran; the runner is then
  # still there, and wait is called again until it has ended.
  [ "$last" = 127 ] && break
  rc=$last
  kill -0 "$pid" 2>/dev/null || break
done
if [ "$limit" = 1 ]; then
  scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}" || true
fi
exit "$rc"
`, strings.Join(args, " "))
	return b.String(), nil
}

// Submit writes the script to <Output>/slurm/sweep.sbatch (creating the log
// folder, which Slurm does not) and submits it with sbatch, returning the job
// id. With dryRun it returns the script only and touches nothing.
func Submit(ctx context.Context, j Job, dryRun bool) (script, jobID string, err error) {
	script, err = Script(j)
	if err != nil || dryRun {
		return script, "", err
	}
	if _, err := exec.LookPath("sbatch"); err != nil {
		return script, "", errors.New("slurm: sbatch not found on PATH (use -slurm-dry-run to print the script)")
	}
	path := j.ScriptPath()
	if err := sweep.WriteAtomic(path, []byte(script)); err != nil {
		return script, "", fmt.Errorf("slurm: %w", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "sbatch", "--parsable", path)
	cmd.Dir = j.Workdir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		return script, "", fmt.Errorf("slurm: sbatch %s: %v: %s", path, err, msg)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), ";")
	if !regexp.MustCompile(`^[0-9]+$`).MatchString(id) {
		return script, "", fmt.Errorf("slurm: sbatch printed %q, not a job id", stdout.String())
	}
	return script, id, nil
}

// Executable is the running binary's absolute path, for Job.Runner. When it
// is runner-tf started by the launcher, the launcher beside it (bin/runner)
// is named instead, so task logs stay free of TensorFlow's start-up notices.
func Executable() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		return "", err
	}
	if filepath.Base(p) == "runner-tf" {
		launcher := filepath.Join(filepath.Dir(p), "runner")
		if fi, err := os.Stat(launcher); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return launcher, nil
		}
	}
	return p, nil
}

func jobName(s string) string {
	s = regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s, "_")
	if s == "" {
		s = "sweep"
	}
	return s
}

// Command is args as one shell command line, each word quoted as needed.
func Command(args []string) string { return strings.Join(quoteAll(args), " ") }

// quote makes s one shell word.
func quote(s string) string {
	if s != "" && regexp.MustCompile(`^[A-Za-z0-9_./=:,+@%-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}
