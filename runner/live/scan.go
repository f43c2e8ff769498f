package live

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/styletransfer/gostyle/runner/rundir"
)

// Point is what the page shows of one run folder (a run, or one point of a
// sweep). It is sent to the page as JSON.
type Point struct {
	Name      string  `json:"name"`      // the folder under the root, without ".partial"
	State     string  `json:"state"`     // status.json's "state", else running or done
	Iteration int     `json:"iteration"` // of the last metrics row; -1 before the first
	Loss      float64 `json:"loss"`      // total loss of that row
	Picture   string  `json:"picture"`   // file name of the newest picture, "" if none yet
	PictureV  string  `json:"picture_v"` // changes when the picture does (cache key)
	MetricsV  string  `json:"metrics_v"` // changes when metrics.csv does (cache key)

	dir string // the folder itself
}

// Depth of the folders searched under a root: a run is root/<run>, a sweep
// point root/<sweep>/<point>, and one more level for grouped sweeps.
const maxDepth = 3

// scan finds the run folders under root: folders holding metrics.csv or
// status.json. A folder being written is named <run>.partial (renamed when
// the run ends); it stands for <run>, which it will replace.
func scan(root string, cache map[string]metricsSummary) ([]Point, error) {
	root = filepath.Clean(root)
	found := map[string]Point{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // a folder renamed or removed while walking
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if depth := strings.Count(rel, string(filepath.Separator)) + 1; rel != "." && depth > maxDepth {
			return filepath.SkipDir
		}
		p, ok := readPoint(path, cache)
		if !ok {
			return nil
		}
		if rel == "." {
			rel = filepath.Base(root)
		}
		p.Name = filepath.ToSlash(strings.TrimSuffix(rel, ".partial"))
		if old, dup := found[p.Name]; !dup || strings.HasSuffix(path, ".partial") && !strings.HasSuffix(old.dir, ".partial") {
			found[p.Name] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	points := make([]Point, 0, len(found))
	for _, p := range found {
		points = append(points, p)
	}
	slices.SortFunc(points, func(a, b Point) int { return strings.Compare(a.Name, b.Name) })
	return points, nil
}

// metricsSummary is the last row of a metrics.csv, kept while the file is
// unchanged so that an unchanged run costs a stat, not a parse.
type metricsSummary struct {
	version   string
	iteration int
	loss      float64
}

// readPoint reads one folder; ok is false if it is not a run folder.
func readPoint(dir string, cache map[string]metricsSummary) (p Point, ok bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return p, false
	}
	var hasMetrics, hasStatus, hasFinal bool
	best, bestIt := "", -2
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == rundir.MetricsName:
			hasMetrics = true
		case name == rundir.StatusName:
			hasStatus = true
		case name == rundir.FinalName:
			hasFinal = true
		case name == rundir.InitialName && bestIt < -1:
			best, bestIt = name, -1
		default:
			if it, ok := rundir.CheckpointIteration(name); ok && it > bestIt {
				best, bestIt = name, it
			}
		}
	}
	if !hasMetrics && !hasStatus {
		return p, false
	}
	if hasFinal {
		best = rundir.FinalName
	}
	p = Point{dir: dir, Iteration: -1, Picture: best}
	if best != "" {
		p.PictureV = version(filepath.Join(dir, best))
	}
	if hasMetrics {
		path := filepath.Join(dir, rundir.MetricsName)
		p.MetricsV = version(path)
		s, ok := cache[path]
		if !ok || s.version != p.MetricsV {
			s = summarize(path, p.MetricsV)
			cache[path] = s
		}
		p.Iteration, p.Loss = s.iteration, s.loss
	}
	state := ""
	if hasStatus {
		state = readState(dir)
	}
	switch {
	case state != "":
		p.State = state
	case strings.HasSuffix(dir, ".partial") || !hasFinal:
		p.State = "running"
	default:
		p.State = "done"
	}
	return p, true
}

// version names a file's current content cheaply: size and modification
// time. The runner replaces pictures by renaming, so both change together.
func version(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "-" + strconv.FormatInt(fi.Size(), 36)
}

func summarize(path, v string) metricsSummary {
	s := metricsSummary{version: v, iteration: -1}
	m, err := rundir.ReadMetrics(filepath.Dir(path))
	if err != nil || m.Rows() == 0 {
		return s
	}
	it, err := m.Column("iteration")
	if err != nil {
		return s
	}
	last := len(it) - 1
	s.iteration = int(it[last])
	if total, err := m.Column("total"); err == nil {
		s.loss = total[last]
	}
	return s
}

// readState reads status.json's "state" (rundir.ReadStatus); "" if it cannot.
func readState(dir string) string {
	st, err := rundir.ReadStatus(dir)
	if err != nil {
		return ""
	}
	return string(st.State)
}
