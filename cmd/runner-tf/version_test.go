package main

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(kv ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/styletransfer/gostyle", Version: "v0.0.0-20261207195602-332cd4b1e2ab"}}
		for i := 0; i < len(kv); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return bi
	}
	rev := "332cd4b1e2ab3fb6e9a0d0c1b1b7a1f0e8d7c6b5"
	for _, c := range []struct {
		set  string
		bi   *debug.BuildInfo
		want string
	}{
		{"", vcs("vcs.revision", rev, "vcs.time", "2026-12-07T19:56:02Z", "vcs.modified", "false"),
			"v0.0.0-20261207195602-332cd4b1e2ab revision " + rev + " 2026-12-07T19:56:02Z"},
		{"", vcs("vcs.revision", rev, "vcs.modified", "true"), "v0.0.0-20261207195602-332cd4b1e2ab revision " + rev + " (modified)"},
		{"1.2.0", vcs("vcs.revision", rev), "1.2.0 revision " + rev},
		{"", vcs(), "v0.0.0-20261207195602-332cd4b1e2ab (no VCS revision recorded: not built by go build in a git checkout)"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel) (no VCS revision recorded: not built by go build in a git checkout)"},
		{"", nil, "(devel) (no VCS revision recorded: not built by go build in a git checkout)"},
	} {
		if got := buildVersion(c.set, c.bi); got != c.want {
			t.Errorf("buildVersion(%q, %v) = %q, want %q", c.set, c.bi, got, c.want)
		}
	}
}

// go build in a fresh clone records the revision git reports, which -version prints.
// (A clone, not this folder: Go finds only a .git folder, not a worktree's .git file.
// The launcher cmd/runner is built: it is pure Go, and go build stamps every main
// package of the module alike; -buildvcs=auto as the Makefile passes it, over any
// GOFLAGS=-buildvcs=false.)
func TestGoBuildRecordsRevision(t *testing.T) {
	git := func(dir string, args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
		if err != nil {
			t.Skipf("git %v: %v (not a git checkout?)", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	head := git(".", "rev-parse", "HEAD")
	common := git(".", "rev-parse", "--path-format=absolute", "--git-common-dir")
	clone := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.Command("git", "clone", "-q", "--shared", "--no-checkout", common, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	git(clone, "checkout", "-q", head)
	bin := filepath.Join(t.TempDir(), "runner")
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, "./cmd/runner")
	build.Dir = clone
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := "revision " + head
	if got := buildVersion("", bi); !strings.Contains(got, want) || strings.HasPrefix(got, "(devel)") {
		t.Errorf("version line %q, want a module version and %q", got, want)
	}
}
