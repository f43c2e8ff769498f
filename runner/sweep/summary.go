package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/styletransfer/gostyle/runner/regularfile"
	"github.com/styletransfer/gostyle/runner/rundir"
)

// Stale is the state of a run folder that is done but ran another config
// (the sweep changed since): a rerun refuses the point (its run folder holds a
// finished run) until -overwrite replaces it.
const Stale = "stale"

// StaleNote is the -status line that says what a rerun does with stale points.
const StaleNote = "stale: done with other settings than the sweep's now; a rerun fails these points until run with -overwrite, which replaces each once its new run finishes"

// Row is one point in the summary, read back from its run folder.
type Row struct {
	Index      int      `json:"index"`
	ID         string   `json:"id"`
	Dir        string   `json:"dir"`
	Overrides  []string `json:"overrides"`
	Status     string   `json:"status"`
	Iterations int      `json:"iterations"`
	// Final losses (the last row of metrics.csv); nil when the run has none.
	Total   *float64 `json:"total"`
	Content *float64 `json:"content"`
	Style   *float64 `json:"style"`
	TV      *float64 `json:"tv"`
	Seconds float64  `json:"seconds"`
	// SecondsPerIteration is the pace after the first logged iteration,
	// which also pays for TensorFlow's one-off graph optimisation.
	SecondsPerIteration float64 `json:"seconds_per_iteration"`
	Weights             string  `json:"weights"` // the model's weights, from model.json
	Final               string  `json:"final"`   // final.png, relative to the sweep folder; "" if none
}

// Summarize reads every point's run folder under output: status marker,
// last metrics row, model weights, final picture. It reads only files, so a
// summary after per-index cluster tasks equals one after a local run.
func Summarize(output string, points []Point, status StatusReader) ([]Row, error) {
	rows := make([]Row, 0, len(points))
	for _, p := range points {
		dir := filepath.Join(output, p.Dir)
		r := Row{Index: p.Index, ID: p.ID, Dir: p.Dir, Overrides: p.Overrides(), Status: Missing}
		state, id, err := status(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("point %d: status of %s: %w", p.Index, dir, err)
		case state == Done && id != p.ID:
			r.Status = Stale
		default:
			r.Status = state
		}
		if r.Status != Missing {
			if err := r.readMetrics(dir); err != nil {
				return nil, fmt.Errorf("point %d: %w", p.Index, err)
			}
			r.Weights = readWeights(filepath.Join(dir, rundir.ModelName))
			if _, err := os.Stat(filepath.Join(dir, rundir.FinalName)); err == nil {
				r.Final = filepath.ToSlash(filepath.Join(p.Dir, rundir.FinalName))
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// readMetrics takes the last complete row of dir's metrics.csv
// (rundir.ReadMetrics), reading columns by name so that added columns do not
// break it. A missing file is no error (a run that failed before its first
// iteration has none).
func (r *Row) readMetrics(dir string) error {
	m, err := rundir.ReadMetrics(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || m.Rows() == 0 {
		return err
	}
	vals := map[string][]float64{}
	for _, name := range []string{"iteration", "total", "content", "style", "tv", "seconds"} {
		if vals[name], err = m.Column(name); err != nil {
			return err
		}
	}
	last := m.Rows() - 1
	ptr := func(v float64) *float64 { return &v }
	r.Iterations = int(vals["iteration"][last])
	r.Total, r.Content, r.Style, r.TV = ptr(vals["total"][last]), ptr(vals["content"][last]), ptr(vals["style"][last]), ptr(vals["tv"][last])
	r.Seconds = vals["seconds"][last]
	if n := vals["iteration"][last] - vals["iteration"][0]; last > 0 && n > 0 {
		r.SecondsPerIteration = (r.Seconds - vals["seconds"][0]) / n
	}
	return nil
}

// readWeights describes the model's weights from the run folder's
// model.json (the exported metadata); "" when there is none.
func readWeights(path string) string {
	data, err := regularfile.Read(path, rundir.MaxModelBytes)
	if err != nil {
		return ""
	}
	var md struct {
		Weights       string `json:"weights"`
		WeightsSource string `json:"weights_source"`
		Pooling       string `json:"pooling"`
	}
	if json.Unmarshal(data, &md) != nil || md.Weights == "" {
		return ""
	}
	s := md.Weights
	if md.WeightsSource != "" && md.WeightsSource != md.Weights {
		s += " (" + md.WeightsSource + ")"
	}
	if md.Pooling != "" {
		s += ", " + md.Pooling + " pooling"
	}
	return s
}

// Summary file names in the sweep folder.
const (
	SummaryCSV   = "summary.csv"
	SummaryJSON  = "summary.json"
	ContactSheet = "contact-sheet.png"
)

var csvHeader = []string{"index", "id", "dir", "overrides", "status", "iterations", "total", "content", "style", "tv", "seconds", "seconds_per_iteration", "weights"}

// WriteSummary writes summary.csv and summary.json into output, each
// atomically (a reader never sees half a file).
func WriteSummary(output string, rows []Row) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(csvHeader)
	f := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'g', -1, 64)
	}
	for _, r := range rows {
		w.Write([]string{strconv.Itoa(r.Index), r.ID, r.Dir, strings.Join(r.Overrides, " "), r.Status,
			strconv.Itoa(r.Iterations), f(r.Total), f(r.Content), f(r.Style), f(r.TV),
			strconv.FormatFloat(r.Seconds, 'f', 3, 64), strconv.FormatFloat(r.SecondsPerIteration, 'f', 4, 64), r.Weights})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteAtomic(filepath.Join(output, SummaryCSV), b.Bytes()); err != nil {
		return err
	}
	return WriteAtomic(filepath.Join(output, SummaryJSON), append(js, '\n'))
}

// WriteAtomic writes a sweep-level file (summary, contact sheet, batch
// script) as run folders write theirs: whole or not at all (rundir).
func WriteAtomic(path string, data []byte) error { return rundir.WriteFileAtomic(path, data) }

// Table prints the rows as the -status report: one line per point.
func Table(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tSTATUS\tITER\tTOTAL\tSECONDS\tID\tDIR")
	counts := map[string]int{}
	for _, r := range rows {
		total := "-"
		if r.Total != nil {
			total = strconv.FormatFloat(*r.Total, 'g', 5, 64)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%.1f\t%s\t%s\n", r.Index, r.Status, r.Iterations, total, r.Seconds, r.ID, r.Dir)
		counts[r.Status]++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for _, s := range []string{Done, Running, Interrupted, Failed, Stale, Missing} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if _, err := fmt.Fprintf(w, "%d points: %s\n", len(rows), strings.Join(parts, ", ")); err != nil || counts[Stale] == 0 {
		return err
	}
	_, err := fmt.Fprintln(w, StaleNote)
	return err
}
