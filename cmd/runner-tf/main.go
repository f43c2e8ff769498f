// Command runner-tf is the runner linked with TensorFlow; users start it
// through bin/runner (cmd/runner), which keeps TensorFlow's start-up notices
// off their terminal. It runs Gatys-style neural style transfer experiments described
// by YAML configs, on a VGG SavedModel written by export/.
//
//	runner -config experiments/paper.yaml [-set key=value]... [-out DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/styletransfer/gostyle/configs"
	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner"
	"github.com/styletransfer/gostyle/runner/config"
	"golang.org/x/sys/unix"
)

// setFlags collects repeated -set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// errInterrupted marks a run stopped by a signal (exit 130, like a shell).
var errInterrupted = errors.New("interrupted")

func main() {
	reclaimStderr()
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errInterrupted):
		os.Exit(130)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "runner: %v\n", err)
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

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // flag errors become our one line, not a usage dump
	cfgName := fs.String("config", configs.Default, "experiment config: a path, a path under configs/, or an embedded config")
	out := fs.String("out", "", "output root folder (overrides the config's output key)")
	var sets setFlags
	fs.Var(&sets, "set", "override a config key: -set key=value (repeatable; dotted keys for nested maps, values in YAML)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: runner -config FILE [-set key=value]... [-out DIR]")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%v (see runner -h)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see runner -h)", fs.Arg(0))
	}

	src, err := config.Find(*cfgName, "configs", configs.FS)
	if err != nil {
		return err
	}
	cfg, err := config.Load(src, sets)
	if err != nil {
		return err
	}
	if *out != "" {
		cfg.Output = *out
	}
	model, err := graphs.Load(cfg.Model)
	if err != nil {
		return err
	}

	// Ctrl-C or a scheduler's SIGTERM ends the run at the next iteration with
	// its pictures saved; a second signal kills at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()
	res, err := runner.Run(ctx, cfg, model, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loss %.4g -> %.4g in %d iterations, %.1f s (%.3f s/it after the first)\n",
		res.Initial.Total, res.Last.Total, res.Iterations, res.Seconds, res.PerIteration)
	fmt.Fprintf(stdout, "pictures: %s/ (final: %s)\n", res.Dir, res.Final)
	if !model.Meta.Pretrained() {
		fmt.Fprintln(stdout, "note: the model holds random weights, not ImageNet VGG; see README for real weights")
	}
	if res.Interrupted {
		return errInterrupted
	}
	return nil
}
