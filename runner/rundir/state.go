package rundir

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/styletransfer/gostyle/runner/regularfile"
)

// State is what a checkpoint holds for an exact resume: the image the
// optimizer works on and the optimizer's own state, bit for bit.
type State struct {
	Iteration     int       // updates applied to Image
	Width, Height int       // Image is Height*Width*3 float32, NHWC as the model takes it
	Image         []float32 // the optimised image, mean subtracted
	Optimizer     Optimizer
	Extra         map[string]float64 // anything else the loop needs (e.g. the loss at the start)
}

// Optimizer is an optimizer's state: named vectors (Adam's m and v, the
// L-BFGS history pairs) and scalars (Adam's step t).
type Optimizer struct {
	Name    string
	Vectors map[string][]float32
	Scalars map[string]float64
}

// The state files: the last checkpoint and the one before it.
const (
	stateBase    = "state"
	stateName    = "state.bin"
	statePrev    = "state.prev.bin"
	stateDamaged = "state.damaged.bin"
)

// ErrNoState is matched by LoadState's error when no checkpoint was saved.
var ErrNoState = errors.New("no checkpoint state saved")

// stateMagic and stateVersion open every state file. Version 1 layout,
// little-endian: magic, version u32, config id, iteration i64, width u32,
// height u32, image, optimizer name, vectors (u32 count, then name and
// floats each), scalars (u32 count, then name and f64 each), extra (same),
// then the CRC-32C of everything before it. A string is a u32 length and
// its bytes; floats are a u64 count and the values.
var stateMagic = [8]byte{'G', 'O', 'S', 'T', 'Y', 'L', 'E', 'S'}

const stateVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SaveState writes s as the new checkpoint: state.bin is replaced
// atomically and the one it replaces is kept as state.prev.bin. Sync the
// CSV logs first, and write the checkpoint picture before, so that every
// file the state refers to is already on disk.
func (f *Folder) SaveState(s State) error {
	if f.closed {
		return fmt.Errorf("run folder %s: already closed", f.dir)
	}
	if s.Width <= 0 || s.Height <= 0 || len(s.Image) != s.Width*s.Height*3 {
		return fmt.Errorf("save state: image of %d values is not %dx%dx3", len(s.Image), s.Width, s.Height)
	}
	path := filepath.Join(f.path, stateName)
	keepPrevious := func() error {
		err := os.Rename(path, filepath.Join(f.path, statePrev))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := atomicWrite(path, func(w io.Writer) error { return encodeState(w, f.configID, &s) }, keepPrevious); err != nil {
		return err
	}
	f.status.Iteration = s.Iteration
	return f.setState(Running, s.Iteration, "")
}

// LoadState reads the last checkpoint, a regular file of at most
// MaxStateBytes(Options.StatePixels). A damaged state.bin (torn, flipped
// bits, wrong version) is set aside as state.damaged.bin and the previous
// checkpoint is used, with a note.
func (f *Folder) LoadState() (State, error) {
	path := filepath.Join(f.path, stateName)
	limit := MaxStateBytes(f.opts.StatePixels)
	s, err := readState(path, f.configID, limit)
	if err == nil {
		return s, nil
	}
	prev := filepath.Join(f.path, statePrev)
	ps, perr := readState(prev, f.configID, limit)
	switch {
	case perr == nil:
		if !errors.Is(err, os.ErrNotExist) {
			// Set it aside, so the next SaveState cannot rotate it over the good one.
			if rerr := os.Rename(path, filepath.Join(f.path, stateDamaged)); rerr != nil {
				return State{}, fmt.Errorf("%v; set it aside: %w", err, rerr)
			}
		}
		f.notef("%v; resumed from the previous checkpoint %s (iteration %d)", err, prev, ps.Iteration)
		return ps, nil
	case errors.Is(err, os.ErrNotExist) && errors.Is(perr, os.ErrNotExist):
		return State{}, fmt.Errorf("run folder %s: %w", f.path, ErrNoState)
	case errors.Is(perr, os.ErrNotExist):
		return State{}, err
	default:
		return State{}, fmt.Errorf("%v; and the previous checkpoint: %v", err, perr)
	}
}

func readState(path, configID string, limit int64) (State, error) {
	data, err := regularfile.Read(path, limit)
	if err != nil {
		return State{}, err
	}
	s, id, err := decodeState(data)
	if err != nil {
		return State{}, fmt.Errorf("checkpoint state %s is damaged: %v", path, err)
	}
	if id != configID {
		return State{}, fmt.Errorf("checkpoint state %s belongs to config %s, this run is config %s", path, id, configID)
	}
	return s, nil
}

// stateWriter writes little-endian values, keeping the first error and a
// running CRC; floats go through a reused chunk so that a large image does
// not need a second copy in memory.
type stateWriter struct {
	w       io.Writer
	crc     uint32
	err     error
	scratch []byte
}

func (e *stateWriter) bytes(b []byte) {
	if e.err != nil {
		return
	}
	e.crc = crc32.Update(e.crc, castagnoli, b)
	_, e.err = e.w.Write(b)
}

func (e *stateWriter) value(v any) {
	e.scratch, _ = binary.Append(e.scratch[:0], binary.LittleEndian, v)
	e.bytes(e.scratch)
}

func (e *stateWriter) str(s string) {
	e.value(uint32(len(s)))
	e.bytes([]byte(s))
}

func (e *stateWriter) floats(v []float32) {
	e.value(uint64(len(v)))
	const chunk = 1 << 14
	for len(v) > 0 {
		n := min(len(v), chunk)
		e.value(v[:n])
		v = v[n:]
	}
}

func (e *stateWriter) scalars(m map[string]float64) {
	e.value(uint32(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.str(k)
		e.value(m[k])
	}
}

func encodeState(w io.Writer, configID string, s *State) error {
	e := &stateWriter{w: w, scratch: make([]byte, 0, 4<<14)}
	e.bytes(stateMagic[:])
	e.value(uint32(stateVersion))
	e.str(configID)
	e.value(int64(s.Iteration))
	e.value(uint32(s.Width))
	e.value(uint32(s.Height))
	e.floats(s.Image)
	e.str(s.Optimizer.Name)
	e.value(uint32(len(s.Optimizer.Vectors)))
	for _, k := range slices.Sorted(maps.Keys(s.Optimizer.Vectors)) {
		e.str(k)
		e.floats(s.Optimizer.Vectors[k])
	}
	e.scalars(s.Optimizer.Scalars)
	e.scalars(s.Extra)
	sum := e.crc
	e.value(sum)
	return e.err
}

// stateReader reads what stateWriter wrote from a checked buffer: every
// length is compared with what is left before anything is allocated.
type stateReader struct {
	b   []byte
	err error
}

func (d *stateReader) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = io.ErrUnexpectedEOF
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *stateReader) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *stateReader) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *stateReader) str() string { return string(d.take(uint64(d.u32()))) }

func (d *stateReader) floats() []float32 {
	n := d.u64()
	if d.err == nil && n > uint64(len(d.b))/4 {
		d.err = io.ErrUnexpectedEOF
	}
	b := d.take(4 * n)
	if d.err != nil {
		return nil
	}
	v := make([]float32, n)
	if _, err := binary.Decode(b, binary.LittleEndian, v); err != nil {
		d.err = err
	}
	return v
}

func (d *stateReader) scalars() map[string]float64 {
	n := d.u32()
	if d.err != nil || n == 0 {
		return nil
	}
	if uint64(n) > uint64(len(d.b))/12 { // each at least a length and a value
		d.err = io.ErrUnexpectedEOF
		return nil
	}
	m := make(map[string]float64, n)
	for range n {
		k := d.str()
		m[k] = math.Float64frombits(d.u64())
	}
	return m
}

func decodeState(data []byte) (State, string, error) {
	var s State
	if len(data) < len(stateMagic)+8 {
		return s, "", fmt.Errorf("%d bytes: truncated", len(data))
	}
	if [8]byte(data[:8]) != stateMagic {
		return s, "", errors.New("not a state file")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if v := binary.LittleEndian.Uint32(data[8:]); v != stateVersion {
		return s, "", fmt.Errorf("version %d, this runner reads version %d", v, stateVersion)
	}
	if crc32.Checksum(body, castagnoli) != sum {
		return s, "", errors.New("checksum mismatch (torn or corrupted)")
	}
	d := &stateReader{b: body[12:]}
	id := d.str()
	s.Iteration = int(int64(d.u64()))
	s.Width, s.Height = int(d.u32()), int(d.u32())
	s.Image = d.floats()
	s.Optimizer.Name = d.str()
	if n := d.u32(); n > 0 && d.err == nil {
		if uint64(n) > uint64(len(d.b))/12 {
			d.err = io.ErrUnexpectedEOF
		} else {
			s.Optimizer.Vectors = make(map[string][]float32, n)
			for range n {
				k := d.str()
				s.Optimizer.Vectors[k] = d.floats()
			}
		}
	}
	s.Optimizer.Scalars = d.scalars()
	s.Extra = d.scalars()
	switch {
	case d.err != nil:
		return State{}, "", fmt.Errorf("truncated: %v", d.err)
	case len(d.b) != 0:
		return State{}, "", fmt.Errorf("%d bytes of trailing data", len(d.b))
	case len(s.Image) != s.Width*s.Height*3:
		return State{}, "", fmt.Errorf("image of %d values is not %dx%dx3", len(s.Image), s.Width, s.Height)
	}
	return s, id, nil
}
