// Package k8s writes the Kubernetes Indexed Job that runs a sweep: pod i
// gets JOB_COMPLETION_INDEX=i from the Job controller and runs
// `runner -config S -index i`, with the sweep's output on a persistent
// volume so `runner -config S -summary` can rebuild the summary afterwards.
// The sweep config travels in the manifest, as a ConfigMap mounted into each
// pod at ConfigMountPath, so no file on the submitting host is named.
//
// The manifest is built from small local types rather than the Kubernetes
// API packages, which would add megabytes to the runner; a test decodes it
// strictly with the real API types (k8s.io/api/batch/v1).
package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/styletransfer/gostyle/runner/sweep"
	"go.yaml.in/yaml/v3"
)

// Job is what the manifest needs.
type Job struct {
	Name       string    // the sweep's name, made a DNS label for the Job and its ConfigMap
	Points     int       // completions
	Config     []byte    // the sweep config as the runner read it, shipped in a ConfigMap
	ConfigName string    // its file name in the ConfigMap (the config's base name)
	Args       []string  // runner arguments after -config and before -out, -index: -set ...
	Output     string    // the sweep folder as the config names it (relative: under the volume)
	Block      sweep.K8s // image, parallelism, volume, resources
}

// DefaultMountPath is where the output volume is mounted.
const DefaultMountPath = "/results"

// ConfigMountPath is where the ConfigMap holding the sweep config is mounted.
const ConfigMountPath = "/etc/gostyle"

// maxConfigMap is the most data a ConfigMap holds (Kubernetes' limit, 1 MiB).
const maxConfigMap = 1 << 20

// configKey is a valid ConfigMap key: letters, digits, '-', '_' and '.'.
var configKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// Manifest is the ConfigMap holding the sweep config and the Job that runs it, as
// two YAML documents for `kubectl apply -f`.
func Manifest(j Job) ([]byte, error) {
	b := j.Block
	switch {
	case j.Points < 1:
		return nil, errors.New("k8s: the sweep has no points")
	case len(j.Config) == 0:
		return nil, errors.New("k8s: the sweep config is empty")
	case len(j.Config) > maxConfigMap:
		return nil, fmt.Errorf("k8s: the sweep config is %d bytes, over a ConfigMap's 1 MiB", len(j.Config))
	case !configKey.MatchString(j.ConfigName) || j.ConfigName == "." || j.ConfigName == "..":
		return nil, fmt.Errorf("k8s: config file name %q: want letters, digits, '-', '_' and '.'", j.ConfigName)
	case b.Image == "":
		return nil, errors.New("k8s: key k8s.image: the container image holding the runner is required")
	case b.PVC == "":
		return nil, errors.New("k8s: key k8s.pvc: a PersistentVolumeClaim for the output is required (pods write their run folders there)")
	case b.Parallelism < 0:
		return nil, fmt.Errorf("k8s: key k8s.parallelism: %d: want 0 (all at once) or more", b.Parallelism)
	}
	mount := b.MountPath
	if mount == "" {
		mount = DefaultMountPath
	}
	if !path.IsAbs(mount) {
		return nil, fmt.Errorf("k8s: key k8s.mount_path: %q: want an absolute path", mount)
	}
	runner := b.Runner
	if runner == "" {
		runner = "runner"
	}
	par := b.Parallelism
	if par == 0 || par > j.Points {
		par = j.Points
	}
	// The output is moved under the volume: relative outputs keep their
	// path inside it, absolute ones keep only their last element.
	out := path.Clean(strings.ReplaceAll(j.Output, `\`, "/"))
	if path.IsAbs(out) {
		out = path.Base(out)
	}
	out = path.Join(mount, out)

	if mount == ConfigMountPath || strings.HasPrefix(mount, ConfigMountPath+"/") {
		return nil, fmt.Errorf("k8s: key k8s.mount_path: %q: %s holds the config", mount, ConfigMountPath)
	}
	args := append([]string{"-config", path.Join(ConfigMountPath, j.ConfigName)}, j.Args...)
	args = append(args, "-out", out, "-index", "$(JOB_COMPLETION_INDEX)")
	c := container{
		Name:       "runner",
		Image:      b.Image,
		Command:    []string{runner},
		Args:       args,
		WorkingDir: b.WorkDir,
		VolumeMounts: []volumeMount{{Name: "output", MountPath: mount},
			{Name: "config", MountPath: ConfigMountPath, ReadOnly: true}},
	}
	for _, k := range slices.Sorted(maps.Keys(b.Env)) {
		c.Env = append(c.Env, envVar{Name: k, Value: b.Env[k]})
	}
	res := resources{Requests: map[string]string{}, Limits: map[string]string{}}
	if b.CPU != "" {
		res.Requests["cpu"], res.Limits["cpu"] = b.CPU, b.CPU
	}
	if b.Memory != "" {
		res.Requests["memory"], res.Limits["memory"] = b.Memory, b.Memory
	}
	if b.GPUs > 0 {
		res.Limits["nvidia.com/gpu"] = fmt.Sprint(b.GPUs)
	}
	if len(res.Requests)+len(res.Limits) > 0 {
		c.Resources = &res
	}
	name := dnsLabel("sweep-" + j.Name)
	job := jobManifest{
		APIVersion: "batch/v1",
		Kind:       "Job",
		Metadata: objectMeta{
			Name:      name,
			Namespace: b.Namespace,
			Labels:    map[string]string{"app.kubernetes.io/name": "gostyle-sweep", "gostyle/sweep": dnsLabel(j.Name)},
		},
		Spec: jobSpec{
			CompletionMode: "Indexed",
			Completions:    j.Points,
			Parallelism:    par,
			Template: podTemplate{
				Metadata: objectMeta{Labels: map[string]string{"app.kubernetes.io/name": "gostyle-sweep", "gostyle/sweep": dnsLabel(j.Name)}},
				Spec: podSpec{
					RestartPolicy: "Never",
					// SIGTERM ends a point cleanly (pictures saved, marked
					// interrupted); give it time before SIGKILL.
					TerminationGracePeriodSeconds: 60,
					Containers:                    []container{c},
					Volumes: []volume{{Name: "output", PersistentVolumeClaim: &pvcSource{ClaimName: b.PVC}},
						{Name: "config", ConfigMap: &configMapSource{Name: name}}},
				},
			},
		},
	}
	if b.BackoffLimitPerIndex > 0 {
		n := b.BackoffLimitPerIndex
		job.Spec.BackoffLimitPerIndex = &n
	}
	cm := configMap{
		APIVersion: "v1",
		Kind:       "ConfigMap",
		Metadata:   objectMeta{Name: name, Namespace: b.Namespace, Labels: job.Metadata.Labels},
		Data:       map[string]string{j.ConfigName: string(j.Config)},
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, doc := range []any{cm, job} {
		if err := enc.Encode(doc); err != nil {
			return nil, fmt.Errorf("k8s: %w", err)
		}
	}
	enc.Close()
	return buf.Bytes(), nil
}

// The subset of the Kubernetes API the manifest uses, in its field names.
type (
	jobManifest struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
		Spec       jobSpec    `yaml:"spec"`
	}
	configMap struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   objectMeta        `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
	}
	objectMeta struct {
		Name      string            `yaml:"name,omitempty"`
		Namespace string            `yaml:"namespace,omitempty"`
		Labels    map[string]string `yaml:"labels,omitempty"`
	}
	jobSpec struct {
		CompletionMode       string      `yaml:"completionMode"`
		Completions          int         `yaml:"completions"`
		Parallelism          int         `yaml:"parallelism"`
		BackoffLimitPerIndex *int        `yaml:"backoffLimitPerIndex,omitempty"`
		Template             podTemplate `yaml:"template"`
	}
	podTemplate struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     podSpec    `yaml:"spec"`
	}
	podSpec struct {
		RestartPolicy                 string      `yaml:"restartPolicy"`
		TerminationGracePeriodSeconds int         `yaml:"terminationGracePeriodSeconds"`
		Containers                    []container `yaml:"containers"`
		Volumes                       []volume    `yaml:"volumes"`
	}
	container struct {
		Name         string        `yaml:"name"`
		Image        string        `yaml:"image"`
		Command      []string      `yaml:"command"`
		Args         []string      `yaml:"args"`
		WorkingDir   string        `yaml:"workingDir,omitempty"`
		Env          []envVar      `yaml:"env,omitempty"`
		Resources    *resources    `yaml:"resources,omitempty"`
		VolumeMounts []volumeMount `yaml:"volumeMounts"`
	}
	envVar struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	}
	resources struct {
		Requests map[string]string `yaml:"requests,omitempty"`
		Limits   map[string]string `yaml:"limits,omitempty"`
	}
	volumeMount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly,omitempty"`
	}
	volume struct {
		Name                  string           `yaml:"name"`
		PersistentVolumeClaim *pvcSource       `yaml:"persistentVolumeClaim,omitempty"`
		ConfigMap             *configMapSource `yaml:"configMap,omitempty"`
	}
	configMapSource struct {
		Name string `yaml:"name"`
	}
	pvcSource struct {
		ClaimName string `yaml:"claimName"`
	}
)

// dnsLabel makes s a valid Kubernetes name: lower case, digits and '-',
// at most 63 characters, starting and ending with an alphanumeric.
func dnsLabel(s string) string {
	s = regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > 63 {
		s = s[:63]
	}
	s = strings.Trim(s, "-")
	if s == "" {
		s = "sweep"
	}
	return s
}
