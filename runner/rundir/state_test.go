package rundir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func sampleState(it int, seed uint64) State {
	rng := rand.New(rand.NewPCG(seed, 1))
	w, h := 5, 4
	img := make([]float32, w*h*3)
	m, v := make([]float32, len(img)), make([]float32, len(img))
	for i := range img {
		img[i] = float32(rng.NormFloat64() * 100)
		m[i] = float32(rng.NormFloat64())
		v[i] = float32(rng.ExpFloat64() * 1e-9)
	}
	// Values a lossy format would change: a NaN with a payload, -0, Inf, a subnormal.
	img[0], img[1], img[2], img[3] = math.Float32frombits(0x7fc00123), float32(math.Copysign(0, -1)), float32(math.Inf(1)), math.Float32frombits(1)
	return State{
		Iteration: it, Width: w, Height: h, Image: img,
		Optimizer: Optimizer{
			Name:    "adam",
			Vectors: map[string][]float32{"m": m, "v": v},
			Scalars: map[string]float64{"t": float64(it), "beta1": 0.9},
		},
		Extra: map[string]float64{"initial_total": 1.2345678901234e10},
	}
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %08x, want %08x", what, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
		}
	}
}

func sameState(t *testing.T, got, want State) {
	t.Helper()
	if got.Iteration != want.Iteration || got.Width != want.Width || got.Height != want.Height || got.Optimizer.Name != want.Optimizer.Name {
		t.Fatalf("header: got it %d %dx%d %q, want it %d %dx%d %q", got.Iteration, got.Width, got.Height, got.Optimizer.Name,
			want.Iteration, want.Width, want.Height, want.Optimizer.Name)
	}
	sameBits(t, "image", got.Image, want.Image)
	if len(got.Optimizer.Vectors) != len(want.Optimizer.Vectors) {
		t.Fatalf("vectors %v", got.Optimizer.Vectors)
	}
	for k, v := range want.Optimizer.Vectors {
		sameBits(t, k, got.Optimizer.Vectors[k], v)
	}
	for _, p := range [][2]map[string]float64{{got.Optimizer.Scalars, want.Optimizer.Scalars}, {got.Extra, want.Extra}} {
		if len(p[0]) != len(p[1]) {
			t.Fatalf("scalars %v, want %v", p[0], p[1])
		}
		for k, v := range p[1] {
			if math.Float64bits(p[0][k]) != math.Float64bits(v) {
				t.Fatalf("scalar %s = %v, want %v", k, p[0][k], v)
			}
		}
	}
}

func TestStateRoundTripsBitExactly(t *testing.T) {
	f := mustOpen(t, filepath.Join(t.TempDir(), "run"), Options{ConfigID: "cfg-a"})
	if _, err := f.LoadState(); !errors.Is(err, ErrNoState) {
		t.Fatalf("fresh folder: %v, want ErrNoState", err)
	}
	s1, s2 := sampleState(25, 1), sampleState(50, 2)
	for _, s := range []State{s1, s2} {
		if err := f.SaveState(s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, s2)
	if st, _ := ReadStatus(f.Path()); st.Iteration != 50 || st.State != Running {
		t.Errorf("status after SaveState: %+v", st)
	}
	prev, err := readState(filepath.Join(f.Path(), statePrev), "cfg-a", 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, prev, s1)
	// An empty optimizer and no extras round-trip too.
	plain := State{Iteration: 1, Width: 1, Height: 1, Image: []float32{1, 2, 3}}
	f.SaveState(plain)
	got, _ = f.LoadState()
	sameState(t, got, plain)
	if err := f.SaveState(State{Width: 2, Height: 2, Image: make([]float32, 3)}); err == nil {
		t.Error("image of the wrong size saved")
	}
}

// The layout, read with encoding/binary and hash/crc32 independently of the
// package's reader: magic, version, config id, iteration, size, image, CRC-32C.
func TestStateFileLayout(t *testing.T) {
	f := mustOpen(t, filepath.Join(t.TempDir(), "run"), Options{ConfigID: "cfg-xyz"})
	s := sampleState(42, 3)
	f.SaveState(s)
	data, _ := os.ReadFile(filepath.Join(f.Path(), stateName))
	r := bytes.NewReader(data)
	var head struct {
		Magic   [8]byte
		Version uint32
		IDLen   uint32
		ID      [7]byte
		It      int64
		W, H    uint32
		N       uint64
	}
	if err := binary.Read(r, binary.LittleEndian, &head); err != nil {
		t.Fatal(err)
	}
	if string(head.Magic[:]) != "GOSTYLES" || head.Version != 1 || string(head.ID[:]) != "cfg-xyz" || head.It != 42 || head.W != 5 || head.H != 4 || head.N != 60 {
		t.Errorf("header %+v", head)
	}
	img := make([]float32, head.N)
	binary.Read(r, binary.LittleEndian, img)
	sameBits(t, "image", img, s.Image)
	body := data[:len(data)-4]
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		t.Error("trailer is not the CRC-32C of the file")
	}
}

func TestDamagedStateFallsBackToThePreviousCheckpoint(t *testing.T) {
	s1, s2 := sampleState(25, 1), sampleState(50, 2)
	damage := map[string]func([]byte) []byte{
		"flipped byte":  func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b },
		"truncated":     func(b []byte) []byte { return b[:len(b)*2/3] },
		"empty":         func(b []byte) []byte { return nil },
		"flipped CRC":   func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"other version": func(b []byte) []byte { b[8] = 9; return b },
	}
	for name, spoil := range damage {
		t.Run(name, func(t *testing.T) {
			f := mustOpen(t, filepath.Join(t.TempDir(), "run"), Options{ConfigID: "cfg-a"})
			f.SaveState(s1)
			f.SaveState(s2)
			path := filepath.Join(f.Path(), stateName)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, spoil(data), 0o644)
			got, err := f.LoadState()
			if err != nil {
				t.Fatal(err)
			}
			sameState(t, got, s1)
			if notes := strings.Join(f.Notes(), "\n"); !strings.Contains(notes, "state.bin is damaged") || !strings.Contains(notes, "iteration 25") {
				t.Errorf("notes = %q", notes)
			}
			// The damaged file is set aside: the next save keeps the good one as previous.
			f.SaveState(sampleState(75, 3))
			if prev, err := readState(filepath.Join(f.Path(), statePrev), "cfg-a", 1<<30); err != nil || prev.Iteration != 25 {
				t.Errorf("previous after the next save: %v %v", prev.Iteration, err)
			}
			if _, err := os.Stat(filepath.Join(f.Path(), stateDamaged)); err != nil {
				t.Errorf("damaged state not kept aside: %v", err)
			}
		})
	}
	t.Run("both damaged", func(t *testing.T) {
		f := mustOpen(t, filepath.Join(t.TempDir(), "run"), Options{ConfigID: "cfg-a"})
		f.SaveState(s1)
		f.SaveState(s2)
		for _, n := range []string{stateName, statePrev} {
			os.WriteFile(filepath.Join(f.Path(), n), []byte("GOSTYLES\x01\x00\x00\x00junk"), 0o644)
		}
		if _, err := f.LoadState(); err == nil || !strings.Contains(err.Error(), "previous checkpoint") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("huge length with a valid CRC", func(t *testing.T) {
		var buf bytes.Buffer
		s := sampleState(1, 1)
		encodeState(&buf, "c", &s)
		data := buf.Bytes()
		// image count: after magic 8, version 4, id 4+1, iteration 8, w 4, h 4
		binary.LittleEndian.PutUint64(data[33:], 1<<60)
		binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.Checksum(data[:len(data)-4], crc32.MakeTable(crc32.Castagnoli)))
		if _, _, err := decodeState(data); err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("other config", func(t *testing.T) {
		f := mustOpen(t, filepath.Join(t.TempDir(), "run"), Options{ConfigID: "cfg-a"})
		f.SaveState(s1)
		if _, err := readState(filepath.Join(f.Path(), stateName), "cfg-b", 1<<30); err == nil || !strings.Contains(err.Error(), "cfg-a") {
			t.Errorf("err = %v", err)
		}
	})
}

// mountTmpfs mounts a small tmpfs for disk-full tests, or skips saying why.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("disk-full test skipped: needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("disk-full test skipped: mount -t tmpfs -o size=%s: %v", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, "256k")
	f, err := Open(filepath.Join(mnt, "run"), Options{ConfigID: "cfg-a"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := bytes.Repeat([]byte("o"), 64<<10)
	if err := f.WriteFile("final.png", old); err != nil {
		t.Fatal(err)
	}
	s1 := sampleState(25, 1)
	if err := f.SaveState(s1); err != nil {
		t.Fatal(err)
	}
	c, err := f.AppendCSV("metrics.csv", "iteration,total")
	if err != nil {
		t.Fatal(err)
	}

	// A new version bigger than the space left.
	err = f.WriteFile("final.png", bytes.Repeat([]byte("n"), 256<<10))
	path := filepath.Join(f.Path(), "final.png")
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) ||
		!strings.HasPrefix(err.Error(), "write "+path+": the disk is full (no space left on device)") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("user sees: %v", err)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Errorf("final.png: %d bytes, want the previous %d", len(got), len(old))
	}
	if temps, _ := filepath.Glob(filepath.Join(f.Path(), tmpPrefix+"*")); len(temps) != 0 {
		t.Errorf("temporary files left: %v", temps)
	}

	// Fill what is left, then log rows until the disk refuses one.
	filler := filepath.Join(mnt, "filler")
	fill, _ := os.Create(filler)
	fill.Write(make([]byte, 512<<10))
	fill.Close()
	rows := 0
	for ; rows < 100000; rows++ {
		c.Begin(rows)
		c.Float32(float32(rows) * 1.5)
		if err = c.End(); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "metrics.csv") {
		t.Fatalf("CSV on a full disk after %d rows: %v", rows, err)
	}
	data, _ := os.ReadFile(filepath.Join(f.Path(), "metrics.csv"))
	if n := bytes.Count(data, []byte("\n")); n != rows+1 || data[len(data)-1] != '\n' {
		t.Errorf("metrics.csv: %d lines for %d rows, last byte %q", n, rows, data[len(data)-1])
	}
	if err := f.SaveState(sampleState(50, 2)); !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "state.bin") {
		t.Errorf("SaveState on a full disk: %v", err)
	}
	got, err := f.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, s1)

	// Space freed: the run goes on.
	os.Remove(filler)
	if err := f.SaveState(sampleState(50, 2)); err != nil {
		t.Errorf("SaveState once space is freed: %v", err)
	}
	c.Begin(rows)
	c.Float32(1)
	if err := c.End(); err != nil {
		t.Errorf("CSV once space is freed: %v", err)
	}
	c.Close()
}

// TestDiskFullDuringSetUp: a disk that fills before the first checkpoint
// (while the run's record is written) leaves the run marked failed with the
// reason, not "running", although no new file fits on the disk.
func TestDiskFullDuringSetUp(t *testing.T) {
	mnt := mountTmpfs(t, "128k")
	dir := filepath.Join(mnt, "run")
	f, err := Open(dir, Options{ConfigID: "cfg-a"})
	if err != nil {
		t.Fatal(err)
	}
	fill, _ := os.Create(filepath.Join(mnt, "filler"))
	fill.Write(make([]byte, 256<<10)) // to the last byte
	fill.Close()
	werr := f.WriteFile("config.yaml", bytes.Repeat([]byte("k: v\n"), 1000))
	if !errors.Is(werr, ErrDiskFull) {
		t.Fatalf("write on a full disk: %v", werr)
	}
	f.Fail(werr)
	f.Close()
	st, err := ReadStatus(dir)
	if err != nil || st.State != Failed || !strings.Contains(st.Error, "the disk is full") {
		t.Errorf("status after a full disk in set-up: %+v %v, want failed with the reason", st, err)
	}
	// Resumable once space is freed.
	os.Remove(filepath.Join(mnt, "filler"))
	g := mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	if !g.Resumable() {
		t.Error("the failed run is not resumable")
	}
}
