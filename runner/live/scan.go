package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/report"
	"github.com/styletransfer/gostyle/runner/rundir"
	"github.com/styletransfer/gostyle/runner/sweep"
)

// Point is what the page shows of one run folder (a run, or one point of a
// sweep, pending ones included). It is sent to the page as JSON.
type Point struct {
	Name      string             `json:"name"`                // the folder under the root, without ".partial"
	Sweep     string             `json:"sweep,omitempty"`     // the sweep folder under the root; "" for a lone run
	Index     int                `json:"index"`               // the point's index in its sweep; -1 for a lone run
	Overrides []string           `json:"overrides,omitempty"` // the sweep point's settings
	State     string             `json:"state"`               // status.json's state (or pending, stale); running or done without one
	Iteration int                `json:"iteration"`           // of the last metrics row; -1 before the first
	Of        int                `json:"of"`                  // iterations the run makes (its config.yaml); 0 if unknown
	Loss      float64            `json:"loss"`                // total loss of the last row
	Losses    map[string]float64 `json:"losses,omitempty"`    // every loss of the last row, by column
	Seconds   float64            `json:"seconds"`             // elapsed at the last row
	Rate      float64            `json:"rate"`                // iterations per second since the first timed row; 0 if unknown
	ETA       float64            `json:"eta"`                 // seconds left at that rate; 0 when unknown or not running
	Picture   string             `json:"picture"`             // file name of the newest picture, "" if none yet
	PictureV  string             `json:"picture_v"`           // changes when the picture does (cache key)
	MetricsV  string             `json:"metrics_v"`           // changes when metrics.csv does (cache key)

	tree *tree  // the watched root holding it
	dir  string // the folder, relative to the root (slash-separated); "" for a pending point
}

// Depth of the folders searched under a root: a run is root/<run>, a sweep
// point root/<sweep>/<point>, and one more level for grouped sweeps.
const maxDepth = 3

// State of a sweep point whose run folder does not exist yet.
const pending = "pending"

// scanCache keeps what was parsed from files that did not change since, so
// that an unchanged run costs a few stats, not parses.
type scanCache struct {
	metrics map[string]metricsSummary // by tree path + folder
	configs map[string]cachedConfig
}

func newScanCache() *scanCache {
	return &scanCache{metrics: map[string]metricsSummary{}, configs: map[string]cachedConfig{}}
}

type cachedConfig struct {
	version    string
	iterations int
}

// scan finds the run folders under t: folders holding metrics.csv or
// status.json. A folder being written is named <run>.partial (renamed when
// the run ends); it stands for <run>, which it will replace. A sweep folder
// (one holding summary.json, or one expected lists) adds its points that
// have no folder yet as pending.
func scan(t *tree, cache *scanCache, expected map[string][]sweep.Row) ([]Point, error) {
	root, err := t.open()
	if err != nil {
		return nil, err
	}
	rootFS := root.FS()
	if _, err := fs.ReadDir(rootFS, "."); err != nil {
		// The folder went away (or was replaced): open it again next time.
		t.close()
		return nil, err
	}
	base := path.Base(strings.ReplaceAll(t.path, "\\", "/"))
	name := func(rel string) string {
		if rel == "." {
			return base
		}
		return rel
	}
	found := map[string]Point{}
	sweeps := map[string][]sweep.Row{} // by sweep folder (relative)
	fs.WalkDir(rootFS, ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() { // a folder renamed or removed while walking; links are not followed
			return nil
		}
		if rel != "." && strings.Count(rel, "/")+1 > maxDepth {
			return fs.SkipDir
		}
		entries, err := fs.ReadDir(rootFS, rel)
		if err != nil {
			return nil
		}
		if rows := readSummary(root, rel, entries); rows != nil {
			sweeps[rel] = rows
		}
		p, ok := readPoint(root, t, rel, entries, cache)
		if !ok {
			return nil
		}
		p.Name = strings.TrimSuffix(name(rel), ".partial")
		if old, dup := found[p.Name]; !dup || strings.HasSuffix(rel, ".partial") && !strings.HasSuffix(old.dir, ".partial") {
			found[p.Name] = p
		}
		return nil
	})
	for dir, rows := range expected { // the sweep this process runs: known before any summary
		if rel, ok := within(t.path, dir); ok {
			sweeps[rel] = rows
		}
	}
	for rel, rows := range sweeps {
		for _, r := range plainDirs(rows) {
			n := path.Join(rel, r.Dir)
			if rel == "." {
				n = r.Dir
			}
			p, ok := found[n]
			if !ok {
				p = Point{Name: n, State: pending, Iteration: -1, Of: r.Iterations, tree: t} // planned iterations, when Expect gave them
			}
			p.Sweep, p.Index, p.Overrides = name(rel), r.Index, r.Overrides
			if r.Status == sweep.Stale && p.State == string(rundir.Done) {
				p.State = sweep.Stale
			}
			found[n] = p
		}
	}
	points := make([]Point, 0, len(found))
	for _, p := range found {
		points = append(points, p)
	}
	slices.SortFunc(points, func(a, b Point) int {
		if c := strings.Compare(a.Sweep, b.Sweep); c != 0 || a.Sweep == "" {
			if c == 0 {
				return strings.Compare(a.Name, b.Name)
			}
			return c
		}
		return a.Index - b.Index
	})
	return points, nil
}

// within gives dir relative to the root at rootPath ("." for the root), if
// it is inside it.
func within(rootPath, dir string) (string, bool) {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return filepath.Clean(p)
	}
	rel, err := filepath.Rel(abs(rootPath), abs(dir))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// readSummary reads a sweep folder's summary.json (sweep.Row list), nil if
// there is none or it cannot be read.
func readSummary(root *os.Root, rel string, entries []fs.DirEntry) []sweep.Row {
	if !hasRegular(entries, sweep.SummaryJSON) {
		return nil
	}
	data, err := readRegular(root, path.Join(rel, sweep.SummaryJSON), maxTextBytes)
	if err != nil {
		return nil
	}
	var rows []sweep.Row
	if json.Unmarshal(data, &rows) != nil {
		return nil
	}
	return rows
}

// plainDirs keeps the rows whose folder is one plain name (a summary.json
// is a file anyone may have written).
func plainDirs(rows []sweep.Row) []sweep.Row {
	return slices.DeleteFunc(slices.Clone(rows), func(r sweep.Row) bool {
		return r.Dir == "" || r.Dir != path.Base(r.Dir) || r.Dir == "." || r.Dir == ".." || strings.ContainsRune(r.Dir, '\\')
	})
}

func hasRegular(entries []fs.DirEntry, name string) bool {
	for _, e := range entries {
		if e.Name() == name {
			return e.Type().IsRegular()
		}
	}
	return false
}

// metricsSummary is what the page shows of a metrics.csv, kept while the
// file is unchanged.
type metricsSummary struct {
	version   string
	iteration int
	losses    map[string]float64
	seconds   float64
	rate      float64
}

// readPoint reads one folder; ok is false if it is not a run folder. Only
// regular files count: a link named final.png is no picture.
func readPoint(root *os.Root, t *tree, rel string, entries []fs.DirEntry, cache *scanCache) (p Point, ok bool) {
	var metrics, config, final fs.DirEntry
	var hasStatus bool
	best, bestIt := "", -2
	var bestEntry fs.DirEntry
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		name := e.Name()
		switch {
		case name == "metrics.csv":
			metrics = e
		case name == "config.yaml":
			config = e
		case name == "status.json":
			hasStatus = true
		case name == "final.png":
			final = e
		case name == "initial.png" && bestIt < -1:
			best, bestIt, bestEntry = name, -1, e
		default:
			if it, ok := checkpoint(name); ok && it > bestIt {
				best, bestIt, bestEntry = name, it, e
			}
		}
	}
	if metrics == nil && !hasStatus {
		return p, false
	}
	if final != nil {
		best, bestEntry = "final.png", final
	}
	p = Point{tree: t, dir: rel, Index: -1, Iteration: -1, Picture: best}
	if best != "" {
		p.PictureV = version(bestEntry)
	}
	key := t.path + "\x00" + rel
	if metrics != nil {
		p.MetricsV = version(metrics)
		s, ok := cache.metrics[key]
		if !ok || s.version != p.MetricsV {
			s = summarize(root, path.Join(rel, "metrics.csv"), p.MetricsV)
			cache.metrics[key] = s
		}
		p.Iteration, p.Losses, p.Loss, p.Seconds, p.Rate = s.iteration, s.losses, s.losses["total"], s.seconds, s.rate
	}
	if config != nil {
		v := version(config)
		c, ok := cache.configs[key]
		if !ok || c.version != v {
			c = cachedConfig{version: v, iterations: readIterations(root, path.Join(rel, "config.yaml"))}
			cache.configs[key] = c
		}
		p.Of = c.iterations
	}
	p.State = readState(root, rel, hasStatus)
	if p.State == "" {
		switch {
		case strings.HasSuffix(rel, ".partial") || final == nil:
			p.State = string(rundir.Running)
		default:
			p.State = string(rundir.Done)
		}
	}
	if p.State == string(rundir.Running) && p.Rate > 0 && p.Of > p.Iteration {
		p.ETA = float64(p.Of-p.Iteration) / p.Rate
	}
	return p, true
}

// checkpoint parses a checkpoint picture's name, styled_<iteration>.png.
func checkpoint(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "styled_")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".png")
	if !ok {
		return 0, false
	}
	it, err := strconv.Atoi(s)
	return it, err == nil && it >= 0
}

// version names a file's current content cheaply: size and modification
// time. The runner replaces files by renaming, so both change together.
func version(e fs.DirEntry) string {
	fi, err := e.Info()
	if err != nil {
		return ""
	}
	return strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "-" + strconv.FormatInt(fi.Size(), 36)
}

// summarize reads a metrics.csv's last row and its pace: iterations per
// second between the first timed row (whose time also pays for start-up)
// and the last.
func summarize(root *os.Root, name, v string) metricsSummary {
	s := metricsSummary{version: v, iteration: -1}
	data, err := readRegular(root, name, maxMetricsBytes)
	if err != nil {
		return s
	}
	m, err := report.ReadMetrics(bytes.NewReader(data))
	if err != nil || len(m.Iteration) == 0 {
		return s
	}
	last := len(m.Iteration) - 1
	s.iteration = int(m.Iteration[last])
	s.losses = map[string]float64{}
	for _, ser := range m.Series {
		s.losses[ser.Name] = ser.Values[last]
	}
	if len(m.Seconds) == len(m.Iteration) {
		s.seconds = m.Seconds[last]
		if dt, di := m.Seconds[last]-m.Seconds[0], m.Iteration[last]-m.Iteration[0]; dt > 0 && di > 0 {
			s.rate = di / dt
		}
	}
	return s
}

// readIterations reads the iterations key of a run's resolved config.yaml;
// 0 if it cannot.
func readIterations(root *os.Root, name string) int {
	data, err := readRegular(root, name, maxTextBytes)
	if err != nil {
		return 0
	}
	doc, err := config.ParseValue(string(data))
	if err != nil {
		return 0
	}
	for _, e := range doc.Entries() {
		if n, err := strconv.Atoi(e.Value.Text()); e.Key == "iterations" && err == nil && n >= 0 {
			return n
		}
	}
	return 0
}

// readState is the run's state from its status marker (rundir owns it), or
// "" without one. The marker and the lock it probes are read only if they
// are regular files inside the root.
func readState(root *os.Root, rel string, hasStatus bool) string {
	if !hasStatus || !isRegular(root, path.Join(rel, "status.json")) {
		return ""
	}
	if _, err := root.Lstat(path.Join(rel, ".lock")); err == nil && !isRegular(root, path.Join(rel, ".lock")) {
		return ""
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	st, err := rundir.ReadStatus(filepath.Join(root.Name(), filepath.FromSlash(rel)))
	if err != nil {
		return ""
	}
	if st.State == rundir.Running && st.Stale {
		return "stopped" // its runner died: resumable
	}
	return string(st.State)
}
