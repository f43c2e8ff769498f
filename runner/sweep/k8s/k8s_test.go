package k8s

import (
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/runner/sweep"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func TestManifestDecodesStrictlyAsAnIndexedJob(t *testing.T) {
	j := Job{
		Name: "Seed_Report grid", Points: 25,
		Args:   []string{"-config", "experiments/seed-report-grid.yaml", "-set", "iterations=50"},
		Output: "results/seed-report-grid",
		Block: sweep.K8s{Image: "registry.local/gostyle:1", Parallelism: 5, PVC: "style-results", Namespace: "art",
			CPU: "4", Memory: "16Gi", GPUs: 1, BackoffLimitPerIndex: 2, WorkDir: "/app", Env: map[string]string{"B": "2", "A": "1"}},
	}
	data, err := Manifest(j)
	if err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(data, &job); err != nil {
		t.Fatalf("strict decode: %v\n%s", err, data)
	}
	s := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Name != "sweep-seed-report-grid" || job.Namespace != "art" {
		t.Errorf("type/meta: %s %s %s %s", job.APIVersion, job.Kind, job.Name, job.Namespace)
	}
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 25 || *s.Parallelism != 5 || *s.BackoffLimitPerIndex != 2 {
		t.Errorf("spec: %+v", s)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || len(pod.Containers) != 1 || len(pod.Volumes) != 1 {
		t.Fatalf("pod: %+v", pod)
	}
	c := pod.Containers[0]
	wantArgs := "-config experiments/seed-report-grid.yaml -set iterations=50 -out /results/results/seed-report-grid -index $(JOB_COMPLETION_INDEX)"
	if c.Image != "registry.local/gostyle:1" || strings.Join(c.Command, " ") != "runner" || strings.Join(c.Args, " ") != wantArgs || c.WorkingDir != "/app" {
		t.Errorf("container: %v %v %q", c.Image, c.Command, strings.Join(c.Args, " "))
	}
	if len(c.Env) != 2 || c.Env[0].Name != "A" || c.Env[1].Value != "2" {
		t.Errorf("env %+v", c.Env)
	}
	if c.Resources.Limits.Cpu().String() != "4" || c.Resources.Requests.Memory().String() != "16Gi" || c.Resources.Limits.Name("nvidia.com/gpu", "").String() != "1" {
		t.Errorf("resources %+v", c.Resources)
	}
	v := pod.Volumes[0]
	if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "style-results" || c.VolumeMounts[0].Name != v.Name || c.VolumeMounts[0].MountPath != "/results" {
		t.Errorf("volume %+v mount %+v", v, c.VolumeMounts)
	}
	if *pod.TerminationGracePeriodSeconds != 60 {
		t.Errorf("grace %v", *pod.TerminationGracePeriodSeconds)
	}

	// Parallelism 0 runs every index at once; an absolute output keeps its
	// last element under the mount.
	j.Block.Parallelism, j.Output, j.Block.MountPath = 0, "/data/out/sw", "/mnt/o"
	data, _ = Manifest(j)
	job = batchv1.Job{}
	if err := yaml.UnmarshalStrict(data, &job); err != nil {
		t.Fatal(err)
	}
	if *job.Spec.Parallelism != 25 || !strings.Contains(strings.Join(job.Spec.Template.Spec.Containers[0].Args, " "), "-out /mnt/o/sw ") {
		t.Errorf("parallelism %d args %v", *job.Spec.Parallelism, job.Spec.Template.Spec.Containers[0].Args)
	}
}

// The strict decoder is what catches a misspelt field: check that it does.
func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	data, err := Manifest(Job{Name: "x", Points: 2, Output: "o", Block: sweep.K8s{Image: "i", PVC: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "completionMode:", "completionModes:", 1)
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(bad), &job); err == nil {
		t.Fatal("a misspelt field decoded without error")
	}
}

func TestManifestNeedsImageAndVolume(t *testing.T) {
	for _, c := range []struct {
		block sweep.K8s
		want  string
	}{
		{sweep.K8s{PVC: "p"}, "k8s.image"},
		{sweep.K8s{Image: "i"}, "k8s.pvc"},
		{sweep.K8s{Image: "i", PVC: "p", MountPath: "rel"}, "k8s.mount_path"},
		{sweep.K8s{Image: "i", PVC: "p", Parallelism: -1}, "k8s.parallelism"},
	} {
		if _, err := Manifest(Job{Name: "x", Points: 2, Output: "o", Block: c.block}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.block, err, c.want)
		}
	}
}
