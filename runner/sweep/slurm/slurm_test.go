package slurm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/styletransfer/gostyle/runner/sweep"
)

func job(t *testing.T) Job {
	return Job{
		Name: "seed report", Points: 25, Runner: "/opt/gostyle/bin/runner",
		Args:    []string{"-config", "experiments/seed-report-grid.yaml", "-set", "iterations=50", "-set", "style=[a.jpg, 'b c.jpg']", "-out", "/scratch/out"},
		Workdir: "/home/u/gostyle", Output: "/scratch/out",
		Block: sweep.Slurm{Partition: "gpu", Time: "02:00:00", GPUs: 1, CPUs: 8, Mem: "32G", Parallel: 4, Options: []string{"--qos=normal"}, Setup: "module load cuda"},
	}
}

func TestScript(t *testing.T) {
	s, err := Script(job(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#!/bin/bash\n",
		"#SBATCH --job-name=seed_report\n",
		"#SBATCH --array=0-24%4\n",
		"#SBATCH --output=/scratch/out/slurm/%A_%a.out\n",
		"#SBATCH --requeue\n",
		"#SBATCH --signal=B:USR1@60\n",
		"#SBATCH --partition=gpu\n",
		"#SBATCH --time=02:00:00\n",
		"#SBATCH --gres=gpu:1\n",
		"#SBATCH --cpus-per-task=8\n",
		"#SBATCH --mem=32G\n",
		"#SBATCH --qos=normal\n",
		"cd /home/u/gostyle || exit 1\nunset TF_CPP_MIN_LOG_LEVEL\nmodule load cuda\n",
		`/opt/gostyle/bin/runner -config experiments/seed-report-grid.yaml -set iterations=50 -set 'style=[a.jpg, '\''b c.jpg'\'']' -out /scratch/out -index "$SLURM_ARRAY_TASK_ID" &`,
		`scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	// Every #SBATCH line comes before the first command, or sbatch ignores it.
	lines := strings.Split(s, "\n")
	seenCmd := false
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "#SBATCH") && seenCmd {
			t.Errorf("%q after the first command", l)
		}
		if l != "" && !strings.HasPrefix(l, "#") {
			seenCmd = true
		}
	}
	if out, err := exec.Command("bash", "-n", "-c", s).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v %s", err, out)
	}

	j := job(t)
	j.Parallel = 9 // the flag beats the block
	if s, _ := Script(j); !strings.Contains(s, "--array=0-24%9\n") {
		t.Errorf("-slurm-parallel 9 ignored")
	}
	j.Parallel, j.Block = 0, sweep.Slurm{}
	if s, _ := Script(j); !strings.Contains(s, "--array=0-24\n") || strings.Contains(s, "--partition") || strings.Contains(s, "--gres") {
		t.Errorf("empty block: %s", s)
	}
	j.Block.Options = []string{"--qos=a\n#SBATCH --x"}
	if _, err := Script(j); err == nil || !strings.Contains(err.Error(), "slurm.options") {
		t.Errorf("option with a line break: %v", err)
	}
	j.Block.Options, j.Points = nil, 0
	if _, err := Script(j); err == nil {
		t.Errorf("no points: no error")
	}
}

// The script as bash runs it, with a runner and scontrol that log: the
// task's index reaches the runner; the time-limit warning (SIGUSR1 to the
// batch shell) reaches the runner as one SIGTERM, is waited for and requeues
// the task; scancel's SIGTERM (sent by Slurm to the shell and the runner
// alike) reaches the runner once and requeues nothing (issue 26 point 7).
func TestScriptSignals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		group   bool // signal the whole process group, as scancel does
		sig     syscall.Signal
		requeue bool
	}{
		{"time limit", false, syscall.SIGUSR1, true},
		{"scancel", true, syscall.SIGTERM, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			logf := filepath.Join(dir, "log")
			write := func(name, body string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte("#!/bin/bash\n"+body), 0o755); err != nil {
					t.Fatal(err)
				}
				return p
			}
			runner := write("runner", `echo "args $*" >> `+logf+`
echo "TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL-unset}" >> `+logf+`
trap 'echo "runner got TERM" >> `+logf+`; sleep 0.3; exit 143' TERM
echo started >> `+logf+`
for i in $(seq 100); do sleep 0.1; done
echo "finished" >> `+logf+`
`)
			write("scontrol", `echo "scontrol $*" >> `+logf+"\n")
			j := Job{Name: "t", Points: 4, Runner: runner, Args: []string{"-config", "s.yaml"}, Workdir: dir, Output: dir}
			s, err := Script(j)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "-c", s)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_JOB_ID=77",
				"TF_CPP_MIN_LOG_LEVEL=0")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				b, _ := os.ReadFile(logf)
				if strings.Contains(string(b), "started") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("runner did not start: %s", b)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tc.group {
				syscall.Kill(-cmd.Process.Pid, tc.sig)
			} else {
				cmd.Process.Signal(tc.sig)
			}
			err = cmd.Wait()
			b, _ := os.ReadFile(logf)
			got := string(b)
			if !strings.Contains(got, "args -config s.yaml -index 2\n") || strings.Count(got, "runner got TERM") != 1 ||
				strings.Contains(got, "scontrol requeue 77_2") != tc.requeue || strings.Contains(got, "finished") {
				t.Errorf("log (want the runner's TERM once, requeue %v):\n%s", tc.requeue, got)
			}
			if !strings.Contains(got, "TF_CPP_MIN_LOG_LEVEL=unset") {
				t.Errorf("the submitting shell's TF_CPP_MIN_LOG_LEVEL reached the runner:\n%s", got)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
				t.Errorf("batch script exit %v, want the runner's 143", err)
			}
		})
	}
}

func TestSubmitDryRunWritesNothing(t *testing.T) {
	j := job(t)
	j.Output = filepath.Join(t.TempDir(), "out")
	s, id, err := Submit(context.Background(), j, true)
	if err != nil || id != "" || !strings.Contains(s, "--array=0-24%4") {
		t.Fatalf("dry run: %q %v", id, err)
	}
	if _, err := os.Stat(j.Output); !os.IsNotExist(err) {
		t.Errorf("dry run wrote %s", j.Output)
	}
}

// Submit writes the script where the logs go and reads sbatch's
// --parsable answer; sbatch here is a script that records its call.
func TestSubmit(t *testing.T) {
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "sbatch"), []byte("#!/bin/bash\necho \"$@\" > "+bin+"/called\necho '4242;cluster'\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	j := job(t)
	j.Output = filepath.Join(t.TempDir(), "out")
	j.Workdir = t.TempDir()
	_, id, err := Submit(context.Background(), j, false)
	if err != nil || id != "4242" {
		t.Fatalf("id %q, err %v", id, err)
	}
	called, _ := os.ReadFile(filepath.Join(bin, "called"))
	script := filepath.Join(j.Output, "slurm", "sweep.sbatch")
	if strings.TrimSpace(string(called)) != "--parsable "+script {
		t.Errorf("sbatch called with %q", called)
	}
	if b, err := os.ReadFile(script); err != nil || !strings.HasPrefix(string(b), "#!/bin/bash") {
		t.Errorf("script file: %v", err)
	}
	os.WriteFile(filepath.Join(bin, "sbatch"), []byte("#!/bin/bash\necho 'sbatch: error: invalid partition specified: gpu' >&2\nexit 1\n"), 0o755)
	if _, _, err := Submit(context.Background(), j, false); err == nil || !strings.Contains(err.Error(), "invalid partition specified: gpu") {
		t.Errorf("failing sbatch: %v", err)
	}
}
