// Command runner is what users start: a small launcher, free of TensorFlow,
// that execs bin/runner-tf (the runner linked with TensorFlow) in its place.
//
// TensorFlow's shared library prints start-up notices from its static
// initialisers (the oneDNN notice on Intel CPUs), before any code of ours
// runs and whatever TF_CPP_MIN_LOG_LEVEL says. So the launcher lends the
// engine a /dev/null stderr while the library loads, and passes the user's
// stderr along as another descriptor that runner-tf takes back first thing
// in main. exec keeps the process id, so signals and exit codes are the
// engine's own. Setting TF_CPP_MIN_LOG_LEVEL yourself shows TensorFlow's logs.
//
// The launcher also sets glibc's allocator to one arena (see oneArena), which
// must happen before the engine's first malloc, so it cannot be done later.
//
//	runner -config experiments/paper.yaml [-set key=value]... [-out DIR]
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// engineName is the TensorFlow-linked binary, next to this one.
const engineName = "runner-tf"

// StderrFDEnv names the descriptor holding the user's stderr; runner-tf
// reads it (the name is part of the two programs' contract).
const stderrFDEnv = "RUNNER_STDERR_FD"

func main() {
	err := launch()
	fmt.Fprintf(os.Stderr, "runner: %v\n", err) // launch returns only on failure
	os.Exit(1)
}

func launch() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find %s: %w", engineName, err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	engine := filepath.Join(filepath.Dir(self), engineName)
	if _, err := os.Stat(engine); err != nil {
		return fmt.Errorf("%s is missing beside %s (run `make build`)", engineName, self)
	}
	env := oneArena(os.Environ())
	if _, userWantsLogs := os.LookupEnv("TF_CPP_MIN_LOG_LEVEL"); !userWantsLogs {
		env = append(env, "TF_CPP_MIN_LOG_LEVEL=3")
		held, err := holdStderr()
		if err != nil {
			return err
		}
		env = append(env, stderrFDEnv+"="+strconv.Itoa(held))
		defer unix.Dup3(held, 2, 0) // exec failed: give the user's stderr back for our one line
	}
	err = unix.Exec(engine, append([]string{os.Args[0]}, os.Args[1:]...), env)
	return fmt.Errorf("start %s: %w", engine, err)
}

// oneArena adds MALLOC_ARENA_MAX=1 unless the user tuned glibc's arenas
// already. TensorFlow frees and reallocates every step's tensors from its
// pool threads; with glibc's default of up to 8 arenas per core, each
// thread's arena keeps its own freed pages and the peak memory grows. One
// arena costs no time: TensorFlow allocates per op output, too rarely for
// the arena lock to matter (figures in the README's Performance section).
func oneArena(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "MALLOC_ARENA_MAX=") ||
			strings.HasPrefix(kv, "GLIBC_TUNABLES=") && strings.Contains(kv, "glibc.malloc.arena_max") {
			return env
		}
	}
	return append(env, "MALLOC_ARENA_MAX=1")
}

// holdStderr duplicates stderr onto a new descriptor that survives exec and
// points stderr itself at /dev/null.
func holdStderr() (int, error) {
	held, err := unix.FcntlInt(2, unix.F_DUPFD, 3) // no close-on-exec
	if err != nil {
		return 0, fmt.Errorf("hold stderr: %w", err)
	}
	null, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer unix.Close(null)
	if err := unix.Dup3(null, 2, 0); err != nil {
		return 0, fmt.Errorf("quiet stderr: %w", err)
	}
	return held, nil
}
