package k8s

import (
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/runner/sweep"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decode splits the manifest into its ConfigMap and Job, each decoded strictly.
func decode(t *testing.T, data []byte) (corev1.ConfigMap, batchv1.Job) {
	t.Helper()
	docs := strings.SplitAfter(string(data), "\n---\n")
	if len(docs) == 2 {
		docs[0] = strings.TrimSuffix(docs[0], "---\n")
	}
	if len(docs) != 2 {
		t.Fatalf("want two documents (ConfigMap, Job), got %d:\n%s", len(docs), data)
	}
	var cm corev1.ConfigMap
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &cm); err != nil || cm.Kind != "ConfigMap" || cm.APIVersion != "v1" {
		t.Fatalf("ConfigMap: %v %s %s\n%s", err, cm.APIVersion, cm.Kind, docs[0])
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &job); err != nil {
		t.Fatalf("strict decode: %v\n%s", err, docs[1])
	}
	return cm, job
}

const gridConfig = "model: models/vgg19-random-max\nsweep:\n  grid:\n    seed: [1, 2]\n"

func TestManifestDecodesStrictlyAsAnIndexedJob(t *testing.T) {
	j := Job{
		Name: "Seed_Report grid", Points: 25, Config: []byte(gridConfig), ConfigName: "seed-report-grid.yaml",
		Args:   []string{"-set", "iterations=50"},
		Output: "results/seed-report-grid",
		Block: sweep.K8s{Image: "registry.local/gostyle:1", Parallelism: 5, PVC: "style-results", Namespace: "art",
			CPU: "4", Memory: "16Gi", GPUs: 1, BackoffLimitPerIndex: 2, WorkDir: "/app", Env: map[string]string{"B": "2", "A": "1"}},
	}
	data, err := Manifest(j)
	if err != nil {
		t.Fatal(err)
	}
	cm, job := decode(t, data)
	s := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Name != "sweep-seed-report-grid" || job.Namespace != "art" {
		t.Errorf("type/meta: %s %s %s %s", job.APIVersion, job.Kind, job.Name, job.Namespace)
	}
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 25 || *s.Parallelism != 5 || *s.BackoffLimitPerIndex != 2 {
		t.Errorf("spec: %+v", s)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || len(pod.Containers) != 1 || len(pod.Volumes) != 2 {
		t.Fatalf("pod: %+v", pod)
	}
	c := pod.Containers[0]
	wantArgs := "-config /etc/gostyle/seed-report-grid.yaml -set iterations=50 -out /results/results/seed-report-grid -index $(JOB_COMPLETION_INDEX)"
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
	// The config travels in the ConfigMap, mounted read-only where -config looks.
	if cm.Name != job.Name || cm.Namespace != "art" || len(cm.Data) != 1 || cm.Data["seed-report-grid.yaml"] != gridConfig {
		t.Errorf("ConfigMap %s/%s data %q", cm.Namespace, cm.Name, cm.Data)
	}
	cv := pod.Volumes[1]
	if cv.ConfigMap == nil || cv.ConfigMap.Name != cm.Name || len(c.VolumeMounts) != 2 || c.VolumeMounts[1].Name != cv.Name ||
		c.VolumeMounts[1].MountPath != "/etc/gostyle" || !c.VolumeMounts[1].ReadOnly {
		t.Errorf("config volume %+v mounts %+v", cv, c.VolumeMounts)
	}
	if *pod.TerminationGracePeriodSeconds != 60 {
		t.Errorf("grace %v", *pod.TerminationGracePeriodSeconds)
	}

	// Parallelism 0 runs every index at once; an absolute output keeps its
	// last element under the mount.
	j.Block.Parallelism, j.Output, j.Block.MountPath = 0, "/data/out/sw", "/mnt/o"
	data, _ = Manifest(j)
	_, job = decode(t, data)
	if *job.Spec.Parallelism != 25 || !strings.Contains(strings.Join(job.Spec.Template.Spec.Containers[0].Args, " "), "-out /mnt/o/sw ") {
		t.Errorf("parallelism %d args %v", *job.Spec.Parallelism, job.Spec.Template.Spec.Containers[0].Args)
	}
}

// The strict decoder is what catches a misspelt field: check that it does.
func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	data, err := Manifest(Job{Name: "x", Points: 2, Config: []byte(gridConfig), ConfigName: "c.yaml", Output: "o", Block: sweep.K8s{Image: "i", PVC: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "completionMode:", "completionModes:", 1)
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(strings.Split(bad, "\n---\n")[1]), &job); err == nil {
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
		{sweep.K8s{Image: "i", PVC: "p", MountPath: "/etc/gostyle/out"}, "k8s.mount_path"},
	} {
		if _, err := Manifest(Job{Name: "x", Points: 2, Config: []byte(gridConfig), ConfigName: "c.yaml", Output: "o", Block: c.block}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.block, err, c.want)
		}
	}
}

func TestManifestNeedsTheConfig(t *testing.T) {
	block := sweep.K8s{Image: "i", PVC: "p"}
	for _, c := range []struct {
		config []byte
		name   string
		want   string
	}{
		{nil, "c.yaml", "config is empty"},
		{make([]byte, 1<<20+1), "c.yaml", "over a ConfigMap's 1 MiB"},
		{[]byte(gridConfig), "a b.yaml", "config file name"},
		{[]byte(gridConfig), "..", "config file name"},
	} {
		if _, err := Manifest(Job{Name: "x", Points: 2, Config: c.config, ConfigName: c.name, Output: "o", Block: block}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
