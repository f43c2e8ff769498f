// Command runner-tf is the runner linked with TensorFlow; users start it
// through bin/runner (cmd/runner), which keeps TensorFlow's start-up notices
// off their terminal. It runs Gatys-style neural style transfer experiments
// and sweeps of them described by YAML configs, on a VGG SavedModel written
// by export/. It only parses flags and wires the packages together.
//
//	runner -config experiments/paper.yaml [-set key=value]... [-out DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/styletransfer/gostyle/configs"
	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/live"
	"github.com/styletransfer/gostyle/runner/progress"
	"github.com/styletransfer/gostyle/runner/rundir"
	"github.com/styletransfer/gostyle/runner/sweep"
	"github.com/styletransfer/gostyle/runner/sweep/cli"
	"golang.org/x/sys/unix"
)

// version is the runner's version, set at build time with
// -ldflags "-X main.version=..."; else the VCS revision Go recorded.
var version = ""

// setFlags collects repeated -set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// interrupted marks a run stopped by a signal: the exit status is 128 plus
// the signal's number, as a shell reports it (130 for SIGINT, 143 for SIGTERM).
type interrupted struct{ sig syscall.Signal }

func (e interrupted) Error() string { return "interrupted by " + e.sig.String() }

func main() {
	reclaimStderr()
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var stop interrupted
	switch {
	case err == nil:
	case errors.As(err, &stop):
		os.Exit(128 + int(stop.sig))
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "runner: %s\n", oneLine(err))
		os.Exit(1)
	}
}

// oneLine keeps an error on one line whatever a library put in it.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// reclaimStderr takes back the user's stderr, which bin/runner (the
// launcher) held on another descriptor while TensorFlow's library loaded and
// printed its start-up notices into /dev/null. Started directly, runner-tf
// keeps the stderr it was given.
func reclaimStderr() {
	s, ok := os.LookupEnv(stderrFDEnv)
	if !ok {
		return
	}
	os.Unsetenv(stderrFDEnv)
	if fd, err := strconv.Atoi(s); err == nil && fd > 2 {
		if unix.Dup3(fd, 2, 0) == nil {
			unix.Close(fd)
		}
	}
}

// stderrFDEnv is set by the launcher (cmd/runner).
const stderrFDEnv = "RUNNER_STDERR_FD"

const usage = `usage: runner [-config FILE] [-set key=value]... [-out DIR] [flags]

Runs Gatys-style neural style transfer as a YAML config describes it, or
every point of a config's sweep: block.

Examples:
  runner -config experiments/paper.yaml                  # a config under configs/
  runner -config experiments/exp4.yaml -set iterations=100 -set width=400 -set height=300
  runner -config my.yaml -set style='[a.jpg, b.jpg]' -out /tmp/runs
  runner -config my.yaml -print-config                   # the resolved config, nothing run
  RUNNER_ITERATIONS=50 runner -config my.yaml            # environment overrides (below -set)
  runner -resume results/shipwreck_starry_night          # continue an interrupted run
  runner -config experiments/notebook-all.yaml -list     # a sweep's points
  runner -config experiments/notebook-all.yaml -index 3  # one point (what a cluster task runs)
  runner -config experiments/notebook-all.yaml -slurm    # submit the sweep as a Slurm job array
  runner -config experiments/paper.yaml -serve :8080     # watch it in a browser
  runner -version                                        # versions and devices

Flags:
`

// options are the command line.
type options struct {
	config      string
	sets        setFlags
	out         string
	resume      string
	overwrite   bool
	trust       bool
	printConfig bool
	version     bool
	serve       string
	progress    progress.Options
	sweep       cli.Flags
}

func parse(args []string, stdout io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // flag errors become our one line, not a usage dump
	fs.StringVar(&o.config, "config", configs.Default, "experiment config: a path, a path under configs/, or an embedded config")
	fs.Var(&o.sets, "set", "override a config key: -set key=value (repeatable; dotted keys for nested maps, values in YAML)")
	fs.StringVar(&o.out, "out", "", "output root folder (overrides the config's output key)")
	fs.StringVar(&o.resume, "resume", "", "continue the interrupted run in this run `folder` with the config it recorded")
	fs.BoolVar(&o.overwrite, "overwrite", false, "replace a finished run of the same name (kept until the new one finishes)")
	fs.BoolVar(&o.trust, "trust-model", false, "load a model whose graphs hold ops export/ does not emit (file, Python or network ops): only a model you trust")
	fs.BoolVar(&o.printConfig, "print-config", false, "print the resolved config (defaults < file < RUNNER_* environment < -set) as YAML and exit")
	fs.BoolVar(&o.version, "version", false, "print the runner's and TensorFlow's versions and the devices TensorFlow sees, and exit")
	fs.StringVar(&o.serve, "serve", "", "serve a live view of the runs at `[host]:port` (host defaults to 127.0.0.1)")
	fs.Var(&o.progress.Format, "log-format", "log lines as `text` or json (a terminal shows a progress bar instead of text lines)")
	fs.BoolVar(&o.progress.Quiet, "quiet", false, "print errors only")
	o.sweep.Register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, fmt.Errorf("%v (see runner -h)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see runner -h)", fs.Arg(0))
	}
	seen := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { seen[f.Name] = true })
	if o.resume != "" && (seen["config"] || len(o.sets) > 0 || seen["out"]) {
		return nil, errors.New("-resume takes the config the run recorded: give no -config, -set or -out with it")
	}
	if o.overwrite {
		o.sets = append(o.sets, "overwrite=true")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stdout)
	if err != nil {
		return err
	}
	if o.version {
		return printVersion(stdout)
	}
	src, err := source(o)
	if err != nil {
		return err
	}

	// Ctrl-C or a scheduler's SIGTERM ends the run after the current step,
	// with a checkpoint to resume from; a second signal ends it at once (the
	// files written so far are whole: every write is atomic).
	ctx, sig := withSignals()

	if cli.IsSweep(src.Data) {
		return runSweep(ctx, sig, o, src, stdout)
	}
	if o.sweep.Any() {
		return fmt.Errorf("config %s has no sweep: block: -list, -index, -summary, -status, -slurm and -k8s need one", src.Name)
	}
	loadConfig := config.Load
	if o.resume != "" { // exactly the config the run recorded
		loadConfig = func(src config.Source, _ []string) (config.Config, error) { return config.LoadEnv(src, nil, nil) }
	}
	cfg, err := loadConfig(src, o.sets)
	if err != nil {
		return err
	}
	if o.out != "" {
		cfg.Output = o.out
	}
	if o.printConfig {
		return printConfig(stdout, cfg)
	}
	if o.serve != "" {
		stopServe, err := serve(o.serve, cfg.Output, stdout)
		if err != nil {
			return err
		}
		defer stopServe()
	}
	model, err := load(cfg, o.trust, stdout, [][]string{runner.UsedLayers(cfg)})
	if err != nil {
		return err
	}
	o.progress.Every = cfg.LogEvery
	rep := progress.New(stdout, o.progress)
	res, err := runner.RunWith(ctx, cfg, model, rep)
	if err != nil {
		return err
	}
	return report(stdout, o, model, res, sig)
}

// source is the config to run: -config, or the config a run folder recorded.
func source(o *options) (config.Source, error) {
	if o.resume == "" {
		return config.Find(o.config, "configs", configs.FS)
	}
	st, err := rundir.ReadStatus(o.resume)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, rundir.ErrNoStatus):
		return config.Source{}, fmt.Errorf("-resume %s: not a run folder (no status.json)", o.resume)
	case err != nil:
		return config.Source{}, fmt.Errorf("-resume %s: %w", o.resume, err)
	case st.State == rundir.Done:
		return config.Source{}, fmt.Errorf("-resume %s: the run is finished; nothing to resume", o.resume)
	}
	path := filepath.Join(o.resume, "config.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return config.Source{}, fmt.Errorf("-resume %s: %w", o.resume, err)
	}
	return config.Source{Name: path, Data: data}, nil
}

// withSignals cancels the context at the first SIGINT, SIGTERM or SIGHUP and
// remembers which; a second one exits at once.
func withSignals() (context.Context, *syscall.Signal) {
	ctx, cancel := context.WithCancel(context.Background())
	got := new(syscall.Signal)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP) // HUP: the terminal closed
	go func() {
		s := (<-ch).(syscall.Signal)
		*got = s
		cancel()
		s2 := (<-ch).(syscall.Signal)
		fmt.Fprintf(os.Stderr, "runner: %v again: stopping now; the last checkpoint is intact\n", s2)
		os.Exit(128 + int(s2))
	}()
	return ctx, got
}

// modelOptions are cfg's session settings for its model.
func modelOptions(cfg config.Config, trust bool) graphs.Options {
	return graphs.Options{Device: cfg.Device, IntraOpThreads: cfg.IntraOpThreads, InterOpThreads: cfg.InterOpThreads,
		BFloat16: cfg.Precision == "bfloat16", Float16: cfg.Precision == "float16", ConvGradient: cfg.ConvGradient, Trust: trust}
}

// load loads cfg's model with its session settings, for runs using the
// given layers (graphs.Options.Runs).
func load(cfg config.Config, trust bool, stdout io.Writer, runs [][]string) (*graphs.Model, error) {
	if cfg.Precision == "bfloat16" && !graphs.HasBFloat16Math() {
		fmt.Fprintln(stdout, "note: precision bfloat16: this CPU has neither AMX-BF16 nor AVX512-BF16, so TensorFlow emulates bfloat16 (slower than float32, no gain)")
	}
	opts := modelOptions(cfg, trust)
	opts.Runs = runs
	return graphs.LoadWith(cfg.Model, opts)
}

// report prints the result of a single run.
func report(stdout io.Writer, o *options, model *graphs.Model, res *runner.Result, sig *syscall.Signal) error {
	if !o.progress.Quiet {
		fmt.Fprintf(stdout, "loss %.4g -> %.4g in %d iterations, %.1f s (%.3f s/it after the first)\n",
			res.Initial.Total, res.Last.Total, res.Iterations, res.Seconds, res.PerIteration)
		fmt.Fprintf(stdout, "pictures: %s/ (final: %s)\n", res.Dir, res.Final)
		if !model.Meta.Pretrained() {
			fmt.Fprintln(stdout, "note: the model holds random weights, not ImageNet VGG; see README for real weights")
		}
	}
	if res.Interrupted {
		fmt.Fprintf(stdout, "interrupted: resume with: runner -resume %s\n", res.Dir)
		return interrupted{*sig}
	}
	return nil
}

// runSweep runs, lists, summarises or submits a sweep; the points share
// one loaded model per SavedModel folder.
func runSweep(ctx context.Context, sig *syscall.Signal, o *options, src config.Source, stdout io.Writer) error {
	plan, err := sweep.Load(src, o.sets, o.out)
	if err != nil {
		return err
	}
	if o.printConfig {
		for i, cfg := range plan.Configs {
			fmt.Fprintf(stdout, "--- # point %d: %s\n", i, strings.Join(plan.Points[i].Overrides(), " "))
			if err := printConfig(stdout, cfg); err != nil {
				return err
			}
		}
		return nil
	}
	o.progress.Every = 0
	rep := progress.New(stdout, o.progress)
	var models graphs.Pool // points with the same folder and session settings share a model
	total, done := len(plan.Points), 0
	if o.sweep.Index >= 0 {
		total = 0 // one point: no sweep progress
	}
	sweepOut := stdout
	if o.progress.Quiet && !o.sweep.List && !o.sweep.Status && !o.sweep.SlurmDryRun && !o.sweep.K8s {
		sweepOut = io.Discard // errors only
	}
	env := cli.Env{ConfigArg: o.config, Source: src, Sets: o.sets, Out: o.out, Stdout: sweepOut,
		Status: func(dir string) (string, string, error) {
			st, err := rundir.ReadStatus(dir)
			if errors.Is(err, rundir.ErrNoStatus) {
				err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
			}
			return string(st.State), st.ConfigID, err
		},
		Run: func(ctx context.Context, cfg config.Config, p sweep.Point) (sweep.PointResult, error) {
			if total > 0 {
				rep.Point(done, total)
				done++
			}
			key := graphs.KeyOf(cfg.Model, modelOptions(cfg, o.trust))
			m, err := models.Get(key, func() (*graphs.Model, error) {
				return load(cfg, o.trust, stdout, sweepRuns(plan.Configs, key, o.trust))
			})
			if err != nil {
				return sweep.PointResult{}, err
			}
			res, err := runner.RunWith(ctx, cfg, m, rep)
			if err != nil {
				return sweep.PointResult{}, err
			}
			return sweep.PointResult{Interrupted: res.Interrupted}, nil
		}}
	if o.trust {
		env.PassOn = append(env.PassOn, "-trust-model")
	}
	if o.serve != "" {
		stopServe, err := serve(o.serve, plan.Output, stdout)
		if err != nil {
			return err
		}
		defer stopServe()
	}
	err = o.sweep.Main(ctx, env)
	if errors.Is(err, context.Canceled) || (err == nil && ctx.Err() != nil) {
		fmt.Fprintf(stdout, "interrupted: run the same command again to resume the sweep\n")
		return interrupted{*sig}
	}
	return err
}

// sweepRuns are the layers each point sharing the model (by key) uses.
func sweepRuns(cfgs []config.Config, key graphs.PoolKey, trust bool) [][]string {
	var runs [][]string
	for _, cfg := range cfgs {
		if graphs.KeyOf(cfg.Model, modelOptions(cfg, trust)) == key {
			runs = append(runs, runner.UsedLayers(cfg))
		}
	}
	return runs
}

// serve starts the live view over the run folders under root.
func serve(addr, root string, stdout io.Writer) (func(), error) {
	srv, err := live.New(addr)
	if err != nil {
		return nil, fmt.Errorf("-serve %s: %w", addr, err)
	}
	if err := srv.Watch(root); err != nil {
		srv.Close()
		return nil, fmt.Errorf("-serve %s: %w", addr, err)
	}
	fmt.Fprintf(stdout, "live view: %s\n", srv.URL())
	return func() { srv.Close() }, nil
}

// printConfig writes the resolved config as YAML.
func printConfig(w io.Writer, cfg config.Config) error {
	y, err := config.YAML(cfg.Resolved())
	if err != nil {
		return err
	}
	_, err = w.Write(y)
	return err
}

// printVersion prints the runner's and TensorFlow's versions and the
// devices TensorFlow sees.
func printVersion(w io.Writer) error {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v = "devel " + s.Value[:12]
				}
			}
		}
	}
	fmt.Fprintf(w, "runner %s\nTensorFlow %s\n", v, graphs.TensorFlowVersion())
	devs, err := graphs.Devices()
	if err != nil {
		return err
	}
	for _, d := range devs {
		fmt.Fprintf(w, "device %s %s\n", d.Type, d.Name)
	}
	return nil
}
