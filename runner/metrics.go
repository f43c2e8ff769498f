package runner

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
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
