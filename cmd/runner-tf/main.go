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
	"github.com/styletransfer/gostyle/runner/plan"
	"github.com/styletransfer/gostyle/runner/progress"
	"github.com/styletransfer/gostyle/runner/rundir"
	"github.com/styletransfer/gostyle/runner/sweep"
	"github.com/styletransfer/gostyle/runner/sweep/cli"
	"golang.org/x/sys/unix"
)

// version is the runner's version, set at build time with
// -ldflags "-X main.version=..."; else the module version Go recorded.
var version = ""

// buildVersion is the runner's version line: set (from -ldflags) or else the main
// module's version Go recorded, then the VCS revision, its time and whether the
// checkout had changes. go build in a git checkout records them (the Makefile's
// bin/runner-tf); go run, test binaries and -buildvcs=false do not, and the line says so.
func buildVersion(set string, bi *debug.BuildInfo) string {
	v, vcs := set, map[string]string{}
	if bi != nil {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			vcs[s.Key] = s.Value
		}
	}
	if v == "" {
		v = "(devel)"
	}
	rev := vcs["vcs.revision"]
	if rev == "" {
		return v + " (no VCS revision recorded: not built by go build in a git checkout)"
	}
	v += " revision " + rev
	if t := vcs["vcs.time"]; t != "" {
		v += " " + t
	}
	if vcs["vcs.modified"] == "true" {
		v += " (modified)"
	}
	return v
}

// setFlags collects repeated -set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// interrupted marks a run stopped by a signal: the exit status is 128 plus
// the signal's number, as a shell reports it (130 for SIGINT, 143 for SIGTERM).
type interrupted struct{ sig syscall.Signal }

func (e interrupted) Error() string { return "interrupted by " + e.sig.String() }

// shown is an error whose line is printed already (before the live view
// went on serving the run's final state).
type shown struct{ error }

func main() {
	reclaimStderr()
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var stop interrupted
	switch {
	case err == nil:
	case errors.As(err, &stop):
		os.Exit(128 + int(stop.sig))
	case errors.As(err, new(shown)):
		os.Exit(1) // its line is on stderr already
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "runner: %s\n", config.OneLine(err))
		os.Exit(1)
	}
}

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
  runner -serve :8080 -out results                       # view every run and sweep under results/
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
	viewOnly    bool // -serve with no -config, -resume or sweep flag: serve -out, run nothing
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
	o.viewOnly = o.serve != "" && !seen["config"] && o.resume == "" && !o.printConfig && !o.sweep.Any()
	if o.overwrite {
		o.sets = append(o.sets, "overwrite=true")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	// Ctrl-C or a scheduler's SIGTERM ends the run: in the loop after the
	// current step, with a checkpoint to resume from (a second signal ends
	// it at once); in any other phase at once (see signals).
	sig := watchSignals()
	o, err := parse(args, stdout)
	if err != nil {
		return err
	}
	if o.progress.Format == progress.JSON { // every line of the output is a JSON record
		j := progress.NewJSONLines(stdout)
		defer j.Flush()
		stdout = j
	}
	if o.version {
		return printVersion(stdout)
	}
	if o.viewOnly {
		return view(sig, o, stdout)
	}
	src, resumed, replacing, err := source(o)
	if err != nil {
		return err
	}

	if cli.IsSweep(src.Data) {
		return runSweep(sig, o, src, stdout)
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
	if o.resume != "" {
		if cfg, err = resumeHere(cfg, resumed, replacing); err != nil {
			return err
		}
	}
	if o.printConfig {
		return printConfig(stdout, cfg)
	}
	var srv *live.Server
	if o.serve != "" {
		if srv, err = serve(o.serve, cfg.Output, stdout); err != nil {
			return err
		}
		defer srv.Close()
	}
	model, err := loadModel(cfg, o.trust, stdout, [][]string{plan.UsedLayers(cfg)})
	if err == nil {
		o.progress.Every = cfg.LogEvery
		rep := progress.New(stdout, o.progress)
		var res *runner.Result
		if err = sig.stopping(func() (err error) {
			res, err = runner.RunWith(sig.ctx, cfg, model, rep)
			return err
		}); err == nil {
			err = report(stdout, o, model, res, sig)
		}
	}
	return linger(sig, srv, err, stdout)
}

// view serves the live view over the output root (-out, else the default
// config's output) until a signal: every run and sweep under it, running
// or finished. It runs nothing and writes nothing.
func view(sig *signals, o *options, stdout io.Writer) error {
	root := o.out
	if root == "" {
		src, err := config.Find(configs.Default, "configs", configs.FS)
		if err != nil {
			return err
		}
		cfg, err := config.Load(src, o.sets)
		if err != nil {
			return err
		}
		root = cfg.Output
	}
	srv, err := serve(o.serve, root, stdout)
	if err != nil {
		return err
	}
	defer srv.Close()
	sig.wait(func() { fmt.Fprintf(stdout, "viewing %s until Ctrl-C\n", root) })
	return nil
}

// linger keeps the live view serving after the run (or sweep) ended, so
// that open pages get its final state, until a signal; a run stopped by a
// signal ends at once. The run's error, if any, is printed now and
// returned after.
func linger(sig *signals, srv *live.Server, err error, stdout io.Writer) error {
	if srv == nil || sig.ctx.Err() != nil {
		return err
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runner: %s\n", config.OneLine(err))
		err = shown{err}
	}
	sig.wait(func() { fmt.Fprintf(stdout, "live view: still serving %s (Ctrl-C to stop)\n", srv.URL()) })
	return err
}

// source is the config to run: -config, or the config a run folder
// recorded. For -resume, run is the run folder to continue (rundir.ResumeFolder),
// and replacing is true when the work is the unfinished replacement an
// interrupted -overwrite run left in "<run>.new", whose config it reads.
func source(o *options) (src config.Source, run string, replacing bool, err error) {
	if o.resume == "" {
		src, err = config.Find(o.config, "configs", configs.FS)
		return src, "", false, err
	}
	run, work, err := rundir.ResumeFolder(o.resume)
	switch {
	case errors.Is(err, rundir.ErrNoStatus):
		return src, "", false, fmt.Errorf("-resume %s: not a run folder (no %s)", o.resume, rundir.StatusName)
	case errors.Is(err, rundir.ErrDone):
		return src, "", false, fmt.Errorf("-resume %s: the run is finished; nothing to resume", o.resume)
	case err != nil:
		return src, "", false, fmt.Errorf("-resume %s: %w", o.resume, err)
	}
	src, err = config.Read(filepath.Join(work, rundir.ConfigName))
	if err != nil {
		return src, "", false, fmt.Errorf("-resume %s: %w", o.resume, err)
	}
	return src, run, work != run, nil
}

// resumeHere points cfg, the config recorded for the run folder dir, at dir
// itself: a folder copied or moved since resumes where it is, not at the
// output it recorded. A replacement resumes with overwrite, as it was made.
func resumeHere(cfg config.Config, dir string, replacing bool) (config.Config, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return cfg, fmt.Errorf("-resume %s: %w", dir, err)
	}
	cfg.Output, cfg.Name = filepath.Dir(abs), filepath.Base(abs)
	cfg.Overwrite = cfg.Overwrite || replacing
	return cfg, nil
}

// modelOptions are cfg's session settings for its model.
func modelOptions(cfg config.Config, trust bool) graphs.Options {
	return graphs.Options{Device: cfg.Device, IntraOpThreads: cfg.IntraOpThreads, InterOpThreads: cfg.InterOpThreads,
		BFloat16: cfg.Precision == "bfloat16", Float16: cfg.Precision == "float16", ConvGradient: cfg.ConvGradient, Trust: trust}
}

// loadModel is load; a test holds the runner in this phase with it.
var loadModel = load

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
func report(stdout io.Writer, o *options, model *graphs.Model, res *runner.Result, sig *signals) error {
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
		return sig.caught()
	}
	return nil
}

// runSweep runs, lists, summarises or submits a sweep; the points share
// one loaded model per SavedModel folder and session settings. What only
// reads (-list, -status, -print-config, -k8s, -slurm-dry-run) ends at once
// on a signal; what writes stops between points or inside a point's loop.
func runSweep(sig *signals, o *options, src config.Source, stdout io.Writer) error {
	if o.printConfig {
		plan, err := sweep.Load(src, o.sets, o.out)
		if err != nil {
			return err
		}
		return plan.Each(sig.ctx, func(p sweep.Point) error {
			fmt.Fprintf(stdout, "--- # point %d: %s\n", p.Index, strings.Join(p.Overrides(), " "))
			return printConfig(stdout, p.Config)
		})
	}
	points := &pointRunner{sig: sig, trust: o.trust, stdout: stdout, rep: progress.New(stdout, o.progress)}
	readOnly := o.sweep.List || o.sweep.Status || o.sweep.SlurmDryRun || o.sweep.K8s
	sweepOut := stdout
	if o.progress.Quiet && !readOnly {
		sweepOut = io.Discard // errors only
	}
	env := cli.Env{ConfigArg: o.config, Source: src, Sets: o.sets, Out: o.out, Stdout: sweepOut, Status: readStatus, Run: points.run}
	if o.trust {
		env.PassOn = append(env.PassOn, "-trust-model")
	}
	var srv *live.Server
	if o.serve != "" {
		plan, err := sweep.Load(src, o.sets, o.out)
		if err != nil {
			return err
		}
		if srv, err = serve(o.serve, plan.Output, stdout); err != nil {
			return err
		}
		defer srv.Close()
		if plan.Len() <= maxExpected { // every point shows, pending ones too
			var rows []sweep.Row
			if err := plan.Each(sig.ctx, func(p sweep.Point) error {
				rows = append(rows, sweep.Row{Index: p.Index, ID: p.ID, Dir: p.Dir, Overrides: p.Overrides(), Iterations: p.Config.Iterations})
				return nil
			}); err != nil {
				return err
			}
			srv.Expect(plan.Output, rows)
		}
	}
	if readOnly {
		return o.sweep.Main(sig.ctx, env)
	}
	err := sig.stopping(func() error { return o.sweep.Main(sig.ctx, env) })
	if errors.Is(err, context.Canceled) || (err == nil && sig.ctx.Err() != nil) {
		fmt.Fprintf(stdout, "interrupted: run the same command again to resume the sweep\n")
		return sig.caught()
	}
	return linger(sig, srv, err, stdout)
}

// maxExpected is the most points a served sweep lists before they start;
// a larger sweep's page shows the points that have run folders.
const maxExpected = 10000

// readStatus is the sweep's view of a run folder's status marker.
func readStatus(dir string) (state, id string, err error) {
	st, err := rundir.ReadStatus(dir)
	if errors.Is(err, rundir.ErrNoStatus) {
		err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return string(st.State), st.ConfigID, err
}

// pointRunner runs a sweep's points, sharing one loaded model among the
// points of the batch that use the same folder and session settings.
type pointRunner struct {
	sig    *signals
	trust  bool
	stdout io.Writer
	rep    *progress.Reporter
	models graphs.Pool // points with the same folder and session settings share a model
}

// run runs point p of batch (cli.RunPoint). A signal ends the model load
// at once and the loop after its current step.
func (r *pointRunner) run(ctx context.Context, p sweep.Point, batch []sweep.Point) (sweep.PointResult, error) {
	if len(batch) > 1 { // numbered as -list and the run folders number points
		r.rep.Point(p.Index, len(batch))
	}
	r.rep.SetEvery(p.Config.LogEvery)
	key := modelKey(p.Config, r.trust)
	m, err := r.models.Get(key, func() (m *graphs.Model, err error) {
		err = r.sig.atOnce(func() (err error) {
			m, err = loadModel(p.Config, r.trust, r.stdout, sweepRuns(batch, key, r.trust))
			return err
		})
		return m, err
	})
	if err != nil {
		return sweep.PointResult{}, err
	}
	res, err := runner.RunWith(ctx, p.Config, m, r.rep)
	switch {
	case errors.Is(err, rundir.ErrInUse), errors.Is(err, rundir.ErrDone) && doneElsewhere(p):
		return sweep.PointResult{Busy: true}, nil // a second sweep on this output runs it, or ran it
	case err != nil:
		return sweep.PointResult{}, err
	}
	return sweep.PointResult{Interrupted: res.Interrupted}, nil
}

// doneElsewhere reports whether p's run folder is done with p's id: another
// runner finished it after this one found it unfinished.
func doneElsewhere(p sweep.Point) bool {
	st, err := rundir.ReadStatus(filepath.Join(p.Config.Output, p.Dir))
	return err == nil && st.State == rundir.Done && st.ConfigID == p.ID
}

// modelKey says which points can share a loaded model: the same folder and
// session settings.
func modelKey(cfg config.Config, trust bool) graphs.PoolKey {
	return graphs.KeyOf(cfg.Model, modelOptions(cfg, trust))
}

// sweepRuns are the layers each point sharing the model (by key) uses.
func sweepRuns(batch []sweep.Point, key graphs.PoolKey, trust bool) [][]string {
	var runs [][]string
	for _, p := range batch {
		if modelKey(p.Config, trust) == key {
			runs = append(runs, plan.UsedLayers(p.Config))
		}
	}
	return runs
}

// serve starts the live view over the run folders under root.
func serve(addr, root string, stdout io.Writer) (*live.Server, error) {
	srv, err := live.New(addr)
	if err != nil {
		return nil, fmt.Errorf("-serve %s: %w", addr, err)
	}
	if err := srv.Watch(root); err != nil {
		srv.Close()
		return nil, fmt.Errorf("-serve %s: %w", addr, err)
	}
	fmt.Fprintf(stdout, "live view: %s\n", srv.URL())
	return srv, nil
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
	bi, _ := debug.ReadBuildInfo()
	v := buildVersion(version, bi)
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
