package runner

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/styletransfer/gostyle/graphs"
)

// metrics writes metrics.csv: one row per loss evaluation, iteration = the
// number of updates applied to the image it was measured on.
type metrics struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte
}

func newMetrics(path string) (*metrics, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	m := &metrics{f: f, w: bufio.NewWriter(f), buf: make([]byte, 0, 128)}
	_, err = m.w.WriteString("iteration,total,content,style,tv,seconds\n")
	return m, err
}

// add appends a row without allocating: it runs every iteration.
func (m *metrics) add(it int, l *graphs.Losses, seconds float64) error {
	b := strconv.AppendInt(m.buf[:0], int64(it), 10)
	for _, v := range [4]float32{l.Total, l.Content, l.Style, l.TV} {
		b = append(b, ',')
		b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	}
	b = append(b, ',')
	b = strconv.AppendFloat(b, seconds, 'f', 4, 64)
	b = append(b, '\n')
	m.buf = b
	_, err := m.w.Write(b)
	return err
}

func (m *metrics) close() error {
	if m.f == nil {
		return nil
	}
	err := m.w.Flush()
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	m.f = nil
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
