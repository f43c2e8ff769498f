package graphs

import (
	"errors"
	"reflect"
	"testing"
)

func TestPoolLoadsEachKeyOnce(t *testing.T) {
	var p Pool
	loads := 0
	load := func() (*Model, error) { loads++; return &Model{}, nil }
	a := KeyOf("m", Options{Device: "cpu", Runs: [][]string{{"conv1_1"}}})
	b := KeyOf("m", Options{Device: "cpu", Runs: [][]string{{"conv5_1"}}}) // Runs: the same model
	c := KeyOf("m", Options{Device: "cpu", ConvGradient: "backprop"})
	m1, _ := p.Get(a, load)
	m2, _ := p.Get(b, load)
	m3, _ := p.Get(c, load)
	if a != b || m1 != m2 || m1 == m3 || loads != 2 {
		t.Errorf("keys %v %v: models %p %p %p after %d loads, want the first two shared and 2 loads", a, b, m1, m2, m3, loads)
	}
	failed := errors.New("no such folder")
	if _, err := p.Get(KeyOf("x", Options{}), func() (*Model, error) { return nil, failed }); err != failed {
		t.Errorf("Get = %v", err)
	}
	if m, err := p.Get(KeyOf("x", Options{}), load); err != nil || m == nil || loads != 3 {
		t.Errorf("after a failed load: %p, %v, %d loads; want a new load", m, err, loads)
	}
}

// PoolKey holds every field of Options but Runs: a setting added to Options
// must be added to the key, or two runs wanting different settings would
// share a model.
func TestPoolKeyHasEverySetting(t *testing.T) {
	key := reflect.TypeOf(PoolKey{})
	opts := reflect.TypeOf(Options{})
	for i := range opts.NumField() {
		f := opts.Field(i)
		if k, ok := key.FieldByName(f.Name); f.Name != "Runs" && (!ok || k.Type != f.Type) {
			t.Errorf("PoolKey lacks Options.%s", f.Name)
		}
	}
	if key.NumField() != opts.NumField() { // Dir in, Runs out
		t.Errorf("PoolKey has %d fields, Options %d", key.NumField(), opts.NumField())
	}
	o := Options{Device: "gpu:1", IntraOpThreads: 2, InterOpThreads: 3, BFloat16: true, Float16: true, ConvGradient: "forward", Trust: true}
	v, ov := reflect.ValueOf(KeyOf("d", o)), reflect.ValueOf(o)
	for i := range opts.NumField() {
		if name := opts.Field(i).Name; name != "Runs" && !v.FieldByName(name).Equal(ov.Field(i)) {
			t.Errorf("KeyOf drops Options.%s", name)
		}
	}
}
