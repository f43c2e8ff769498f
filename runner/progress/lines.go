package progress

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// JSONLines is an io.Writer for the messages a program prints besides its
// log (results, hints, tables) when the log is JSON: each line becomes one
// JSON object, {"time":..., "level":"INFO", "msg": the line}, so that every
// line of the output parses. A Reporter made on a JSONLines writes its own
// records to the writer underneath. Flush writes a last line that has no
// newline.
type JSONLines struct {
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

// NewJSONLines wraps w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

func (j *JSONLines) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(j.buf[:i])
		j.buf = j.buf[i+1:]
		if err := j.emit(line); err != nil {
			return len(p), err
		}
	}
}

// Flush writes what is left of an unfinished line.
func (j *JSONLines) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.buf) == 0 {
		return nil
	}
	line := string(j.buf)
	j.buf = j.buf[:0]
	return j.emit(line)
}

func (j *JSONLines) emit(line string) error {
	rec, err := json.Marshal(struct {
		Time  string `json:"time"`
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}{time.Now().Format(time.RFC3339Nano), "INFO", line})
	if err != nil {
		return err
	}
	_, err = j.w.Write(append(rec, '\n'))
	return err
}

// once drops a "model" record that repeats one already written: a sweep's
// points share their model, which is described once.
func once(h slog.Handler) slog.Handler { return &onceHandler{h, &onceSeen{seen: map[string]bool{}}} }

type onceHandler struct {
	slog.Handler
	s *onceSeen
}

type onceSeen struct {
	mu   sync.Mutex
	seen map[string]bool
}

// onceMessages are the records written once per Reporter.
var onceMessages = map[string]bool{"model": true}

func (o *onceHandler) Handle(ctx context.Context, r slog.Record) error {
	if onceMessages[r.Message] {
		var key bytes.Buffer
		key.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			key.WriteString("\x00" + a.String())
			return true
		})
		o.s.mu.Lock()
		dup := o.s.seen[key.String()]
		o.s.seen[key.String()] = true
		o.s.mu.Unlock()
		if dup {
			return nil
		}
	}
	return o.Handler.Handle(ctx, r)
}

func (o *onceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &onceHandler{o.Handler.WithAttrs(as), o.s}
}

func (o *onceHandler) WithGroup(name string) slog.Handler {
	return &onceHandler{o.Handler.WithGroup(name), o.s}
}
