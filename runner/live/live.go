// Package live serves a web page over an output folder: every run and
// sweep under it (a sweep's points, pending ones too), live while runners
// write there and after they end; per run, its checkpoints, loss and
// per-layer curves, config and weights. It only reads.
//
// The design is a poller: Watch reads the run folders under an output root
// every Poll interval (status.json, metrics.csv, config.yaml, the newest
// styled_*.png or final.png, a sweep's summary.json), and the page is told
// by server-sent events when anything changed. The runner needs no hooks,
// the view works the same for a run, a sweep run in one process, or Slurm
// array jobs writing to a shared folder, and a crashed run simply stops
// changing. The folder is untrusted: every read goes through files.go.
package live

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/styletransfer/gostyle/runner/sweep"
)

// Poll is how often Watch looks at the run folders.
const Poll = 500 * time.Millisecond

// ListenAddr completes a -serve address: a bare port (":8080") means the
// loopback interface only, so nothing is exposed to the network unless a
// host is named ("0.0.0.0:8080", "myhost:8080").
func ListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("serve address %q: %w (want [host]:port, e.g. :8080)", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("serve address %q: bad port %q", addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Server serves the page and keeps the state of the watched run folders.
type Server struct {
	mux  *http.ServeMux
	http *http.Server
	ln   net.Listener
	log  *slog.Logger

	mu       sync.Mutex
	trees    []*tree
	expected map[string][]sweep.Row // sweeps this process runs, by folder
	points   []Point
	pointsJS []byte        // points as JSON, to tell a change
	changed  chan struct{} // closed and replaced when points change
	cache    *scanCache
	previews map[string][]byte // scaled pictures by file, size and version

	stop chan struct{}
	wg   sync.WaitGroup
}

// New listens on addr (see ListenAddr) and serves the page until Close.
// Listening happens here, so a taken port is an error now, not later.
func New(addr string) (*Server, error) {
	full, err := ListenAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", full)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s := newServer()
	s.ln = ln
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("live view stopped", "err", err)
		}
	}()
	return s, nil
}

func newServer() *Server {
	s := &Server{
		mux:      http.NewServeMux(),
		log:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
		changed:  make(chan struct{}),
		cache:    newScanCache(),
		previews: map[string][]byte{},
		stop:     make(chan struct{}),
	}
	s.mux.HandleFunc("GET /{$}", s.page)
	s.mux.HandleFunc("GET /events", s.events)
	s.mux.HandleFunc("GET /points.json", s.pointsJSON)
	s.mux.HandleFunc("GET /picture", s.picture)
	s.mux.HandleFunc("GET /metrics.json", s.metricsJSON)
	s.mux.HandleFunc("GET /run.json", s.runJSON)
	s.mux.HandleFunc("GET /sheet", s.sheet)
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return s
}

// URL is the page's address, e.g. http://127.0.0.1:8080/.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// SetLogger sets where the server reports its own errors (default stderr).
func (s *Server) SetLogger(l *slog.Logger) { s.log = l }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Watch shows the run folders under root (an output root, a sweep's folder
// or one run folder) and follows them until Close. It reads them once
// before returning, so the page is complete from the first request. A root
// that does not exist yet is watched until it does (the runner creates it).
func (s *Server) Watch(root string) error {
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		return fmt.Errorf("watch %s: not a folder", root)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("watch: %w", err)
	}
	s.mu.Lock()
	s.trees = append(s.trees, &tree{path: root})
	s.mu.Unlock()
	s.refresh()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(Poll)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.refresh()
			}
		}
	}()
	return nil
}

// Close stops watching and serving; open pages see the stream end.
func (s *Server) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	var err error
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err = s.http.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = s.http.Close()
		}
	}
	s.wg.Wait()
	s.mu.Lock()
	for _, t := range s.trees {
		t.close()
	}
	s.mu.Unlock()
	return err
}

// Expect names the points of a sweep this process runs, whose folder is
// dir: the page shows them all from the start, pending ones included. (A
// sweep's summary.json, once written, tells the same to any viewer.) A
// row's Iterations, if set, is the point's planned iterations.
func (s *Server) Expect(dir string, rows []sweep.Row) {
	s.mu.Lock()
	if s.expected == nil {
		s.expected = map[string][]sweep.Row{}
	}
	s.expected[dir] = rows
	s.mu.Unlock()
	s.refresh()
}

// refresh reads every root and tells the pages if anything changed.
func (s *Server) refresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []Point
	seen := map[string]int{}
	for _, t := range s.trees {
		points, err := scan(t, s.cache, s.expected)
		if err != nil {
			continue // a root not there yet (or gone): nothing to show
		}
		for _, p := range points {
			if n := seen[p.Name]; n > 0 { // the same name under two roots
				p.Name += " (" + strconv.Itoa(n+1) + ")"
			}
			seen[p.Name]++
			all = append(all, p)
		}
	}
	js, err := json.Marshal(nonNil(all))
	if err != nil {
		s.log.Error("live view", "err", err)
		return
	}
	if !bytes.Equal(js, s.pointsJS) {
		s.points, s.pointsJS = all, js
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// snapshot is the current points and the channel closed on their next change.
func (s *Server) snapshot() ([]Point, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.points, s.changed
}

// snapshotJSON is snapshot's points as JSON.
func (s *Server) snapshotJSON() ([]byte, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pointsJS == nil {
		return []byte("[]"), s.changed
	}
	return s.pointsJS, s.changed
}

func (s *Server) find(name string) (Point, bool) {
	points, _ := s.snapshot()
	for _, p := range points {
		if p.Name == name {
			return p, true
		}
	}
	return Point{}, false
}

//go:embed page.html
var pageFS embed.FS

var pageTmpl = template.Must(template.ParseFS(pageFS, "page.html"))

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	points, _ := s.snapshot()
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, nonNil(points)); err != nil {
		http.Error(w, "page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

func (s *Server) pointsJSON(w http.ResponseWriter, r *http.Request) {
	js, _ := s.snapshotJSON()
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(js, '\n'))
}

func nonNil(p []Point) []Point {
	if p == nil {
		return []Point{}
	}
	return p
}

// events streams the points as server-sent events: all of them at once,
// then again after every change; a comment every 15 s keeps proxies from
// closing a quiet stream.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		data, changed := s.snapshotJSON()
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			return
		}
		flusher.Flush()
		for waiting := true; waiting; {
			select {
			case <-changed:
				waiting = false
			case <-keepAlive.C:
				if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
					return
				}
				flusher.Flush()
			case <-r.Context().Done():
				return
			case <-s.stop:
				return
			}
		}
	}
}

// picture serves a point's newest picture. The point is looked up by name
// and the file is the one the scan found, so no request names a path; the
// file is read inside the watched root, and only if it is a regular file.
// A file parameter names another picture of the folder (a checkpoint, an
// input, a report; never a path), and max scales it down to at most that
// many pixels on its longer side.
func (s *Server) picture(w http.ResponseWriter, r *http.Request) {
	p, ok := s.find(r.URL.Query().Get("point"))
	name := r.URL.Query().Get("file")
	if name == "" {
		name = p.Picture
	}
	if !ok || p.dir == "" || name == "" || !pictureName(name) {
		http.NotFound(w, r)
		return
	}
	if side := sideParam(r, 0); side > 0 {
		s.preview(w, r, p, name, side)
		return
	}
	s.serveFile(w, r, p, name)
}

// serveFile serves the regular file name of p's folder, inside its root.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, p Point, name string) {
	f, fi, ok := s.openServed(w, r, p, name)
	if !ok {
		return
	}
	defer f.Close()
	w.Header().Set("Cache-Control", "max-age=3600") // the URL carries the version
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// openServed opens the regular picture file name of p's folder, inside its
// root, or answers 404 (naming the file, never quoting it) and reports false.
func (s *Server) openServed(w http.ResponseWriter, r *http.Request, p Point, name string) (*os.File, fs.FileInfo, bool) {
	root, err := p.tree.open()
	if err != nil {
		http.NotFound(w, r)
		return nil, nil, false
	}
	f, fi, err := openRegular(root, path.Join(p.dir, name), maxPictureBytes)
	if err != nil {
		s.refused(p, err)
		http.Error(w, "not found: "+name+" is not a readable regular file in the run folder", http.StatusNotFound)
		return nil, nil, false
	}
	return f, fi, true
}

// refused logs a file the view would not serve, unless it is simply not
// there (yet): a link, a FIFO or a file over its bound is worth a line.
func (s *Server) refused(p Point, err error) {
	if !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("live view: not served", "point", p.Name, "err", err)
	}
}

// readFile reads the regular file name of p's folder, inside its root.
func (p Point) readFile(name string, max int64) ([]byte, error) {
	if p.dir == "" {
		return nil, fs.ErrNotExist
	}
	root, err := p.tree.open()
	if err != nil {
		return nil, err
	}
	return readRegular(root, path.Join(p.dir, name), max)
}
