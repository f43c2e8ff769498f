package progress

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loop drives a Reporter like the runner's loop: iterations 0..total with
// falling losses.
func loop(r *Reporter, run string, total int) {
	r.Start(run, total)
	for it := 0; it <= total; it++ {
		l := float32(1000) / float32(it+1)
		r.Step(it, l, l/10, l*0.9, 0)
	}
	r.Finish()
}

var textPair = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S+)`)

// parseText reads slog's text lines into maps, as a log tool would.
func parseText(t *testing.T, s string) []map[string]string {
	t.Helper()
	var lines []map[string]string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		m := map[string]string{}
		for _, kv := range textPair.FindAllStringSubmatch(sc.Text(), -1) {
			v := kv[2]
			if strings.HasPrefix(v, `"`) {
				var err error
				if v, err = strconv.Unquote(v); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
			}
			m[kv[1]] = v
		}
		if m["msg"] == "" || m["level"] == "" || m["time"] == "" {
			t.Fatalf("not a slog text line: %q", sc.Text())
		}
		lines = append(lines, m)
	}
	return lines
}

func TestTextLines(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Options{Format: Text, Every: 10})
	if r.Bar() {
		t.Fatal("a buffer is not a terminal, yet a bar is drawn")
	}
	loop(r, "shipwreck_starry_night", 25)
	r.Finish() // a deferred second call adds nothing
	lines := parseText(t, out.String())
	var its []string
	for _, l := range lines {
		if l["msg"] == "iteration" {
			its = append(its, l["it"])
			it, _ := strconv.Atoi(l["it"])
			want := float32(1000) / float32(it+1)
			if l["total"] != strconv.FormatFloat(float64(want), 'g', -1, 32) {
				t.Errorf("iteration %d: total=%s, want %v", it, l["total"], want)
			}
			if l["of"] != "25" || l["run"] != "shipwreck_starry_night" {
				t.Errorf("line %v", l)
			}
		}
	}
	if got := strings.Join(its, ","); got != "0,10,20,25" {
		t.Errorf("iterations logged %s, want 0,10,20,25 (first, every 10th, last)", got)
	}
	if lines[0]["msg"] != "start" || lines[0]["iterations"] != "25" {
		t.Errorf("first line %v, want start", lines[0])
	}
	if last := lines[len(lines)-1]; last["msg"] != "finish" || last["iterations"] != "25" {
		t.Errorf("last line %v, want finish", last)
	}
}

func TestJSONLines(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Options{Format: JSON, Every: 5, Terminal: Always}) // JSON wins over the bar
	r.Point(1, 3)
	loop(r, "p1", 10)
	r.Logger().Info("wrote", "file", "loss.png")
	var msgs []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, m["msg"].(string))
		if m["msg"] == "iteration" {
			it := m["it"].(float64)
			if want := float32(1000) / float32(it+1); float32(m["total"].(float64)) != want {
				t.Errorf("it %v: total %v, want %v", it, m["total"], want)
			}
			if it > 0 {
				if _, ok := m["it_per_s"].(float64); !ok {
					t.Errorf("it %v: no rate in %v", it, m)
				}
				if _, ok := m["eta"].(float64); !ok {
					t.Errorf("it %v: no eta in %v", it, m)
				}
			}
		}
		if m["msg"] == "start" && (m["point"] != 1.0 || m["points"] != 3.0) {
			t.Errorf("start line %v, want point 1 of 3 (the index, as -list numbers it)", m)
		}
		if m["msg"] == "finish" {
			if e, ok := m["elapsed"].(float64); !ok || e < 0 || e > 60 {
				t.Errorf("finish line %v: elapsed should be seconds", m)
			}
		}
		if m["msg"] == "iteration" && m["it"].(float64) > 0 {
			if e := m["eta"].(float64); e > 60 {
				t.Errorf("iteration line %v: eta should be seconds", m)
			}
			if m["point"] != 1.0 {
				t.Errorf("iteration line %v: want point 1", m)
			}
		}
	}
	if got := strings.Join(msgs, " "); got != "sweep start iteration iteration iteration finish wrote" {
		t.Errorf("messages %q", got)
	}
}

// JSON has no NaN: a diverged loss is logged as a string, still valid JSON.
func TestJSONNaN(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Options{Format: JSON})
	r.Start("x", 1)
	r.Step(0, float32(math.NaN()), 1, float32(math.Inf(1)), 0)
	var m map[string]any
	line, _, _ := bytes.Cut(out.Bytes()[bytes.IndexByte(out.Bytes(), '\n')+1:], []byte("\n"))
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if m["total"] != "NaN" || m["style"] != "+Inf" {
		t.Errorf("%v", m)
	}
}

func TestQuiet(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Options{Quiet: true, Every: 1, Terminal: Always})
	r.Point(0, 2)
	loop(r, "q", 20)
	r.Logger().Info("not shown")
	if out.Len() != 0 {
		t.Fatalf("quiet wrote %q", out.String())
	}
	r.Logger().Error("boom", "err", errors.New("bad"))
	if !strings.Contains(out.String(), "msg=boom") || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("error line %q", out.String())
	}
}

// The bar, forced onto a buffer: count, rate, ETA and the loss are drawn.
func TestBar(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Options{Terminal: Always, Refresh: time.Nanosecond})
	if !r.Bar() {
		t.Fatal("no bar with Terminal: Always")
	}
	r.Point(1, 4)
	r.Start("shipwreck_starry_night", 50)
	for it := 0; it <= 50; it++ {
		r.Step(it, 1234.5, 1, 2, 3)
		if it == 20 {
			r.Logger().Info("checkpoint", "file", "styled_0020.png")
		}
	}
	r.Finish()
	r.Finish() // a deferred second call adds nothing
	s := out.String()
	for _, want := range []string{"point 1/4 shipwreck_starry_night", "loss 1.234e+03", "(20/50)", "(50/50)", "100%", "it/s  ETA ", "sweep ETA ", "msg=checkpoint file=styled_0020.png"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar output lacks %q:\n%q", want, s)
		}
	}
	if strings.Contains(s, "time=") {
		t.Error("log lines over the bar carry a timestamp")
	}
	if !strings.HasSuffix(s, "\n") {
		t.Error("finished bar does not end its line")
	}
}

// Per-iteration calls that neither draw nor log must not allocate.
func TestStepDoesNotAllocate(t *testing.T) {
	for name, opts := range map[string]Options{
		"text":  {Format: Text, Every: 1 << 30},
		"json":  {Format: JSON, Every: 1 << 30},
		"bar":   {Terminal: Always, Refresh: time.Hour},
		"quiet": {Quiet: true},
	} {
		var out bytes.Buffer
		r := New(&out, opts)
		r.Start("alloc", 1<<40)
		r.Step(0, 1, 1, 1, 1) // the first iteration is reported
		it := 1
		allocs := testing.AllocsPerRun(1000, func() {
			r.Step(it, 1, 2, 3, 4)
			it++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Step, want 0", name, allocs)
		}
	}
}

func BenchmarkStep(b *testing.B) {
	var out bytes.Buffer
	r := New(&out, Options{Format: Text, Every: 100})
	r.Start("bench", b.N)
	b.ReportAllocs()
	for it := 0; it < b.N; it++ {
		r.Step(it, 1, 2, 3, 4)
	}
}

func TestFormat(t *testing.T) {
	var f Format
	if err := f.Set("json"); err != nil || f != JSON || f.String() != "json" {
		t.Errorf("Set(json): %v %v", f, err)
	}
	if err := f.Set("yaml"); err == nil || !strings.Contains(err.Error(), `"yaml"`) {
		t.Errorf("Set(yaml): %v", err)
	}
}

func TestIsTerminal(t *testing.T) {
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	defer wr.Close()
	if IsTerminal(wr) || IsTerminal(&bytes.Buffer{}) {
		t.Error("a pipe or a buffer taken for a terminal")
	}
}

// A run stopped early (an error or Ctrl-C) leaves the bar where it got to and
// ends its line, so the error line that follows stands on its own.
func TestBarInterrupted(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Options{Terminal: Always, Refresh: time.Nanosecond})
	r.Start("stopped", 100)
	for it := 0; it <= 30; it++ {
		r.Step(it, 5, 1, 4, 0)
	}
	r.Finish()
	s := out.String()
	if !strings.Contains(s, "(30/100)") || strings.Contains(s, "100%") || !strings.HasSuffix(s, "\n") {
		t.Errorf("interrupted bar: %q", s)
	}
}

// The rate is measured from the first timed iteration: a slow start-up
// (TensorFlow preparing its graph) before it does not drag it down.
func TestRateFromFirstTimedIteration(t *testing.T) {
	r := New(io.Discard, Options{Terminal: Never})
	r.Start("x", 100)
	time.Sleep(300 * time.Millisecond) // start-up: the first evaluation
	for it := 0; it <= 20; it++ {
		r.Step(it, 1, 1, 1, 1)
		time.Sleep(time.Millisecond)
	}
	// 20 iterations of about 1 ms: far above the 60 it/s that counting the
	// start-up would give.
	if rate := r.rate(); rate < 150 {
		t.Errorf("rate %.1f it/s, want the steady rate (hundreds)", rate)
	}
}

// The sweep's ETA: this run's plus the later points' at the mean time of
// the points finished here.
func TestSweepETA(t *testing.T) {
	r := New(io.Discard, Options{Terminal: Never})
	r.Point(1, 4)
	r.Start("x", 100)
	r.pointSeconds = []float64{20, 40}
	r.first, r.firstIt, r.it = time.Now().Add(-5*time.Second), 0, 50 // 10 it/s: 5 s left
	rate := r.rate()
	if eta, want := r.sweepETA(rate), 5+2*30.0; math.Abs(eta-want) > 0.5 {
		t.Errorf("sweep ETA %.2f s, want %.0f", eta, want)
	}
	r.Point(3, 4) // the last point: no sweep ETA beyond the run's
	if eta := r.sweepETA(rate); eta != 0 {
		t.Errorf("last point: sweep ETA %v, want 0", eta)
	}
	for s, want := range map[float64]string{0.4: "0s", 59.6: "1m00s", 200: "3m20s", 7500: "2h05m"} {
		if got := Duration(s); got != want {
			t.Errorf("Duration(%v) = %q, want %q", s, got, want)
		}
	}
	for r, want := range map[float64]string{66.4: "66 it/s", 2.25: "2.2 it/s", 0.5: "30 it/min", 1.0 / 600: "6.0 it/h"} {
		if got := Rate(r); got != want {
			t.Errorf("Rate(%v) = %q, want %q", r, got, want)
		}
	}
}

// A sweep's points share their model: it is described once.
func TestModelOnce(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Options{Terminal: Never})
	for i := 0; i < 3; i++ {
		r.Logger().Info("model", "weights", "random (demo)", "device", "cpu")
	}
	r.Logger().Info("model", "weights", "imagenet", "device", "cpu")
	if n := strings.Count(out.String(), "msg=model"); n != 2 {
		t.Errorf("%d model lines, want 2 (one per model):\n%s", n, out.String())
	}
}

// With -log-format json every line of the output parses: the program's own
// lines become records, and the Reporter's records are not wrapped twice.
func TestJSONLinesWriter(t *testing.T) {
	var out bytes.Buffer
	j := NewJSONLines(&out)
	fmt.Fprintf(j, "loss 5 -> 1 in 3 iterations\npictures: ")
	r := New(j, Options{Format: JSON})
	r.Start("x", 1)
	fmt.Fprintf(j, "results/x/ (final: final.png)\nnote: random weights")
	j.Flush()
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		msgs = append(msgs, m["msg"].(string))
	}
	want := "loss 5 -> 1 in 3 iterations|start|pictures: results/x/ (final: final.png)|note: random weights"
	if got := strings.Join(msgs, "|"); got != want {
		t.Errorf("messages %q, want %q", got, want)
	}
}
