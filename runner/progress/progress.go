// Package progress tells the person running the runner how far a run (or a
// sweep) has got. On a terminal it draws a live progress bar (iteration,
// rate, ETA, current total loss; for sweeps, points done of all); anywhere
// else (CI, Slurm logs, pipes) it writes plain log/slog lines every N
// iterations, as text or JSON, that tools can parse. Quiet leaves only
// errors.
//
// Step is called once per iteration from the optimisation loop: in the
// iterations it does not report it only stores four numbers and returns,
// without allocating.
package progress

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Format is how log lines are written off a terminal: text (slog's
// key=value lines) or JSON (one object a line). *Format is a flag.Value, for
// -log-format.
type Format int

const (
	Text Format = iota
	JSON
)

// ParseFormat reads a -log-format value.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "text", "":
		return Text, nil
	case "json":
		return JSON, nil
	}
	return Text, fmt.Errorf("log format %q: want text or json", s)
}

func (f Format) String() string {
	if f == JSON {
		return "json"
	}
	return "text"
}

// Set implements flag.Value.
func (f *Format) Set(s string) error {
	v, err := ParseFormat(s)
	if err == nil {
		*f = v
	}
	return err
}

// Terminal says whether to draw the bar.
type Terminal int

const (
	// Auto draws the bar when the writer is a terminal (and TERM is not
	// "dumb") and the format is text; JSON always gives JSON lines.
	Auto Terminal = iota
	// Always draws the bar whatever the writer is (tests, demos).
	Always
	// Never writes log lines even on a terminal.
	Never
)

// Options say how a Reporter reports.
type Options struct {
	Format Format
	// Every is the iteration interval of log lines off a terminal; the
	// first and last iterations are always logged. 0 logs only those.
	Every int
	// Quiet reports errors only: no bar, no lines.
	Quiet bool
	// Terminal chooses between the bar and log lines; Auto detects.
	Terminal Terminal
	// Refresh is the least time between two redraws of the bar (default
	// 100ms): the loop may run thousands of iterations a second.
	Refresh time.Duration
}

// Reporter reports one run's, or one sweep's, progress. Start, Step, Point
// and Finish are called from one goroutine (the loop's); Logger may be used
// from any.
type Reporter struct {
	opts    Options
	w       io.Writer
	log     *slog.Logger
	barMode bool
	bar     *progressbar.ProgressBar // the current run's bar; nil off a terminal
	mu      sync.Mutex               // orders bar redraws and log lines
	refresh time.Duration

	run                      string
	total                    int // iterations of the run
	it, firstIt              int
	loss, content, style, tv float32
	start, first, lastDraw   time.Time
	point, pointTotal        int       // the sweep point's index (as -list numbers it) and the sweep's points; 0 points: no sweep
	pointSeconds             []float64 // how long each point run to its end here took, for the sweep's ETA
	running                  bool      // between Start and Finish
	logged                   int       // the iteration last logged
}

// IsTerminal reports whether w is a terminal that can show a bar.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

// New makes a Reporter writing to w (usually os.Stderr).
func New(w io.Writer, opts Options) *Reporter {
	if j, ok := w.(*JSONLines); ok {
		w = j.w // the Reporter writes records of its own
	}
	r := &Reporter{opts: opts, w: w, refresh: opts.Refresh}
	if r.refresh <= 0 {
		r.refresh = 100 * time.Millisecond
	}
	level := slog.LevelInfo
	if opts.Quiet {
		level = slog.LevelError
	}
	bar := !opts.Quiet && opts.Format == Text &&
		(opts.Terminal == Always || opts.Terminal == Auto && IsTerminal(w))
	hopts := &slog.HandlerOptions{Level: level}
	switch {
	case bar:
		// On a terminal a line goes above the bar and the time is noise.
		hopts.ReplaceAttr = dropTime
		r.barMode = true
		r.log = slog.New(once(slog.NewTextHandler(&aboveBar{r}, hopts)))
	case opts.Format == JSON:
		r.log = slog.New(once(slog.NewJSONHandler(&locked{r}, hopts)))
	default:
		r.log = slog.New(once(slog.NewTextHandler(&locked{r}, hopts)))
	}
	return r
}

// SetEvery sets the interval of log lines (Options.Every) for the runs to
// come: each point of a sweep has its own log_every.
func (r *Reporter) SetEvery(n int) { r.opts.Every = n }

// Logger is where the caller's other messages go (model, notes, files
// written), so that they respect the format and Quiet and do not tear the
// bar.
func (r *Reporter) Logger() *slog.Logger { return r.log }

// Bar reports whether the Reporter draws a bar (rather than log lines).
func (r *Reporter) Bar() bool { return r.barMode }

func (r *Reporter) barOptions() []progressbar.Option {
	return []progressbar.Option{
		progressbar.OptionSetWriter(r.w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		// Rate and ETA are the description's, measured from the first
		// timed iteration: the bar's own would count TensorFlow's start-up.
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionThrottle(0), // Step throttles, with no allocation
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(r.w) }),
	}
}

// Start begins a run of total iterations (the loop's iterations 0..total).
func (r *Reporter) Start(run string, total int) {
	now := time.Now()
	r.run, r.total, r.start, r.first, r.lastDraw = run, total, now, time.Time{}, time.Time{}
	r.it, r.firstIt, r.loss, r.content, r.style, r.tv = 0, 0, 0, 0, 0, 0
	r.logged = -1
	r.running = true
	if r.opts.Quiet {
		return
	}
	if r.barMode {
		r.mu.Lock()
		r.bar = progressbar.NewOptions(max(total, 1), r.barOptions()...)
		r.bar.Describe(r.describe())
		r.mu.Unlock()
		return
	}
	attrs := []slog.Attr{slog.String("run", run), slog.Int("iterations", total)}
	if r.pointTotal > 0 {
		attrs = append(attrs, slog.Int("point", r.point), slog.Int("points", r.pointTotal))
	}
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "start", attrs...)
}

// Step records iteration it's losses. It draws or logs only now and then;
// otherwise it stores the numbers and returns without allocating.
func (r *Reporter) Step(it int, total, content, style, tv float32) {
	r.it, r.loss, r.content, r.style, r.tv = it, total, content, style, tv
	if r.first.IsZero() {
		r.first, r.firstIt = time.Now(), it
	}
	if r.opts.Quiet {
		return
	}
	last := it >= r.total
	if r.bar != nil {
		now := time.Now()
		if !last && now.Sub(r.lastDraw) < r.refresh {
			return
		}
		r.lastDraw = now
		r.draw()
		return
	}
	if it != r.firstIt && !last && (r.opts.Every <= 0 || it%r.opts.Every != 0) {
		return
	}
	if it == r.logged && !last {
		return // L-BFGS: several evaluations share an iteration; log its first
	}
	r.logged = it
	r.logStep()
}

func (r *Reporter) draw() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bar.Describe(r.describe())
	r.bar.Set(min(r.it, r.total))
}

func (r *Reporter) describe() string {
	s := r.run
	if r.pointTotal > 0 {
		s = "point " + strconv.Itoa(r.point) + "/" + strconv.Itoa(r.pointTotal) + " " + s
	}
	if r.first.IsZero() {
		return s + "  starting"
	}
	s += "  loss " + strconv.FormatFloat(float64(r.loss), 'e', 3, 32)
	if rate := r.rate(); rate > 0 {
		s += "  " + Rate(rate) + "  ETA " + Duration(r.eta(rate))
		if se := r.sweepETA(rate); se > 0 {
			s += "  sweep ETA " + Duration(se)
		}
	}
	return s
}

// rate is iterations a second since the first Step: the first evaluation
// includes TensorFlow's start-up and would skew it.
func (r *Reporter) rate() float64 {
	d := time.Since(r.first).Seconds()
	if d <= 0 || r.it == r.firstIt {
		return 0
	}
	return float64(r.it-r.firstIt) / d
}

// eta is the seconds left in the run at rate.
func (r *Reporter) eta(rate float64) float64 { return float64(max(r.total-r.it, 0)) / rate }

// sweepETA is the seconds left in the sweep, running its points in index
// order: this run's ETA plus, for each later point, the mean time of the
// points this process finished (else this run's projected time). 0 when
// not in a sweep or at its last point.
func (r *Reporter) sweepETA(rate float64) float64 {
	left := r.pointTotal - r.point - 1
	if r.pointTotal == 0 || left <= 0 {
		return 0
	}
	per := time.Since(r.start).Seconds() + r.eta(rate)
	if n := len(r.pointSeconds); n > 0 {
		per = 0
		for _, s := range r.pointSeconds {
			per += s
		}
		per /= float64(n)
	}
	return r.eta(rate) + float64(left)*per
}

// Rate formats iterations a second for people: it/s, or it/min and it/h
// when slow.
func Rate(r float64) string {
	switch {
	case r >= 1:
		return strconv.FormatFloat(r, 'f', rateDecimals(r), 64) + " it/s"
	case r*60 >= 1:
		return strconv.FormatFloat(r*60, 'f', rateDecimals(r*60), 64) + " it/min"
	default:
		return strconv.FormatFloat(r*3600, 'f', rateDecimals(r*3600), 64) + " it/h"
	}
}

func rateDecimals(r float64) int {
	if r >= 10 {
		return 0
	}
	return 1
}

// Duration formats seconds for people: 45s, 3m20s, 2h05m.
func Duration(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
		return "?"
	}
	n := int64(math.Round(s))
	switch {
	case n < 60:
		return strconv.FormatInt(n, 10) + "s"
	case n < 3600:
		return fmt.Sprintf("%dm%02ds", n/60, n%60)
	default:
		return fmt.Sprintf("%dh%02dm", n/3600, (n%3600)/60)
	}
}

func (r *Reporter) logStep() {
	attrs := [12]slog.Attr{
		slog.Int("it", r.it), slog.Int("of", r.total),
		slog.Any("total", f32(r.loss)), slog.Any("content", f32(r.content)),
		slog.Any("style", f32(r.style)), slog.Any("tv", f32(r.tv)),
	}
	n := 6
	if rate := r.rate(); rate > 0 {
		attrs[n], attrs[n+1], n = slog.Any("it_per_s", f32(rate)), slog.Any("eta", seconds(r.eta(rate))), n+2
		if se := r.sweepETA(rate); se > 0 {
			attrs[n], n = slog.Any("sweep_eta", seconds(se)), n+1
		}
	}
	if r.run != "" {
		attrs[n], n = slog.String("run", r.run), n+1
	}
	if r.pointTotal > 0 {
		attrs[n], n = slog.Int("point", r.point), n+1
	}
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "iteration", attrs[:n]...)
}

// Point says that the next run is the sweep's point index (numbered from
// 0, as -list and the run folders number them) of total points.
func (r *Reporter) Point(index, total int) {
	r.point, r.pointTotal = index, total
	if r.opts.Quiet || r.barMode {
		return
	}
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "sweep", slog.Int("point", index), slog.Int("points", total))
}

// Finish ends the run begun by Start: the bar is completed (or left where
// the run stopped, its line ended), or a last line says how far it got.
// Call it on every path out of the loop, errors included (defer it), so
// that an error line never lands on the bar's line; a second call does
// nothing.
func (r *Reporter) Finish() {
	if !r.running {
		return
	}
	r.running = false
	if r.pointTotal > 0 && r.it >= r.total {
		r.pointSeconds = append(r.pointSeconds, time.Since(r.start).Seconds())
	}
	if r.opts.Quiet {
		return
	}
	if r.barMode {
		if r.bar == nil {
			return
		}
		r.mu.Lock()
		switch {
		case r.bar.IsFinished(): // the last Step drew the full bar and ended its line
		case r.it >= r.total:
			r.bar.Describe(r.describe())
			r.bar.Finish()
		default: // interrupted: keep the bar where it got to
			r.bar.Describe(r.describe())
			r.bar.Set(r.it)
			fmt.Fprintln(r.w)
		}
		r.bar = nil
		r.mu.Unlock()
		return
	}
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "finish",
		slog.String("run", r.run), slog.Int("iterations", r.it), slog.Any("total", f32(r.loss)),
		slog.Any("elapsed", seconds(time.Since(r.start).Seconds())))
}

// seconds is a duration logged in seconds: a JSON number, or text such as
// 12.5s (the README's key=value lines).
type seconds float64

func (s seconds) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, math.Round(float64(s)*1000)/1000, 'f', -1, 64), nil
}

func (s seconds) MarshalText() ([]byte, error) {
	return append(strconv.AppendFloat(nil, math.Round(float64(s)*10)/10, 'f', -1, 64), 's'), nil
}

// f32 logs a float32 with the shortest digits that read back exactly, as a
// JSON number or as text.
type f32 float32

func (v f32) MarshalText() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(v), 'g', -1, 32), nil
}

func (v f32) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return json.Marshal(v.String()) // JSON has no NaN: say it as a string
	}
	return v.MarshalText()
}

func (v f32) String() string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// locked serialises log lines from several goroutines.
type locked struct{ r *Reporter }

func (l *locked) Write(p []byte) (int, error) {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.w.Write(p)
}

// aboveBar writes a log line over the bar; the bar is drawn again under it.
type aboveBar struct{ r *Reporter }

func (a *aboveBar) Write(p []byte) (int, error) {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	if b := a.r.bar; b != nil && b.IsStarted() && !b.IsFinished() {
		b.Clear()
		defer b.RenderBlank()
	}
	return a.r.w.Write(p)
}
