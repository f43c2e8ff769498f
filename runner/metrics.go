package runner

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/styletransfer/gostyle/graphs"
)

// csvFile appends rows without allocating: it is written every iteration.
type csvFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
	buf  []byte
}

func createCSV(path, header string) (*csvFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	c := &csvFile{path: path, f: f, w: bufio.NewWriter(f), buf: make([]byte, 0, 256)}
	_, err = c.w.WriteString(header + "\n")
	return c, err
}

// begin starts a row with the iteration number.
func (c *csvFile) begin(it int) { c.buf = strconv.AppendInt(c.buf[:0], int64(it), 10) }

// float32 adds a value with the shortest text that reads back exactly.
func (c *csvFile) float32(v float32) {
	c.buf = strconv.AppendFloat(append(c.buf, ','), float64(v), 'g', -1, 32)
}

func (c *csvFile) seconds(v float64) {
	c.buf = strconv.AppendFloat(append(c.buf, ','), v, 'f', 4, 64)
}

func (c *csvFile) int(v int) {
	c.buf = strconv.AppendInt(append(c.buf, ','), int64(v), 10)
}

func (c *csvFile) end() error {
	_, err := c.w.Write(append(c.buf, '\n'))
	return err
}

func (c *csvFile) close() error {
	if c.f == nil {
		return nil
	}
	err := c.w.Flush()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	c.f = nil
	if err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	return nil
}

// recorder writes one row per loss evaluation: metrics.csv (iteration,
// losses, seconds, evaluations) and layers.csv (each used layer's weighted
// term, columns decided once from the layer plan).
type recorder struct {
	metrics, layers *csvFile
	columns         []layerTerm
	coef            []float32 // the current scale's coefficient per column
}

// layerTerm is one column of layers.csv: a layer's content or style term.
type layerTerm struct {
	index int
	style bool
}

const metricsHeader = "iteration,total,content,style,tv,seconds,evaluations"

func newRecorder(f *folder, p layerPlan, layerNames []string) (*recorder, error) {
	r := &recorder{}
	header := "iteration"
	for i, l := range layerNames {
		for _, c := range p.content {
			if c.index == i {
				r.columns = append(r.columns, layerTerm{i, false})
				header += ",content_" + l
			}
		}
		for _, s := range p.style {
			if s.index == i {
				r.columns = append(r.columns, layerTerm{i, true})
				header += ",style_" + l
			}
		}
	}
	r.coef = make([]float32, len(r.columns))
	var err error
	if r.metrics, err = createCSV(f.path("metrics.csv"), metricsHeader); err != nil {
		return nil, err
	}
	if r.layers, err = createCSV(f.path("layers.csv"), header); err != nil {
		r.metrics.close()
		return nil, err
	}
	return r, nil
}

// useTargets takes the coefficients of a scale's targets.
func (r *recorder) useTargets(t *scaleTargets) {
	for i, c := range r.columns {
		if c.style {
			r.coef[i] = t.StyleWeights[c.index]
		} else {
			r.coef[i] = t.ContentWeights[c.index]
		}
	}
}

// record writes one evaluation's rows; it allocates nothing.
func (r *recorder) record(it, evals int, l *graphs.Losses, seconds float64) error {
	r.metrics.begin(it)
	for _, v := range [4]float32{l.Total, l.Content, l.Style, l.TV} {
		r.metrics.float32(v)
	}
	r.metrics.seconds(seconds)
	r.metrics.int(evals)
	r.layers.begin(it)
	for i, c := range r.columns {
		raw := l.ContentLayers[c.index]
		if c.style {
			raw = l.StyleLayers[c.index]
		}
		r.layers.float32(r.coef[i] * raw)
	}
	if err := errors.Join(r.metrics.end(), r.layers.end()); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

func (r *recorder) close() error { return errors.Join(r.metrics.close(), r.layers.close()) }
