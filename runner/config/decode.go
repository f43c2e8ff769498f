package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cast"
	"github.com/spf13/viper"
)

// decode reads every key of the table with its field's type; the first
// problem is returned, then the table's checks run in table order.
func decode(v *viper.Viper) (Config, error) {
	d := decoder{v: v}
	var c Config
	for _, k := range keys {
		switch p := k.field(&c).(type) {
		case *string:
			*p = d.str(k.name)
		case *[]string:
			*p = d.strs(k.name)
		case *int:
			*p = d.int(k.name)
		case *int64:
			*p = int64(d.int(k.name))
		case *float64:
			*p = d.float(k.name)
		case *bool:
			*p = d.bool(k.name)
		case *[]float64:
			*p = d.floats(k.name)
		case *[]int:
			*p = d.ints(k.name)
		case *map[string]float64:
			*p = d.weights(k.name)
		default:
			panic(fmt.Sprintf("config: key %s has no decoder for %T", k.name, p))
		}
	}
	if d.err != nil {
		return Config{}, d.err
	}
	for i, l := range c.ContentBlendLayers {
		c.ContentBlendLayers[i] = Layer(l)
	}
	return c, c.validate()
}

func (c Config) validate() error {
	for _, k := range keys {
		if k.check == nil {
			continue
		}
		if want := k.check(&c); want != "" {
			return &keyError{k.name, want}
		}
	}
	if len(c.ContentLayers)+len(c.StyleLayers) == 0 {
		return fmt.Errorf("key content_layers/style_layers: want at least one layer")
	}
	return nil
}

// decoder reads typed values and keeps the first error.
type decoder struct {
	v   *viper.Viper
	err error
}

func (d *decoder) fail(key string, want string, got any) {
	if d.err == nil {
		d.err = &keyError{key, want + ", got " + describe(got)}
	}
}

func (d *decoder) str(key string) string {
	raw := d.v.Get(key)
	switch raw.(type) {
	case string, int, int64, float64, bool:
		return cast.ToString(raw)
	case nil:
		return ""
	}
	d.fail(key, "a string", raw)
	return ""
}

func (d *decoder) strs(key string) []string {
	switch raw := d.v.Get(key).(type) {
	case string:
		if raw == "" {
			return nil
		}
		return []string{raw}
	case []string:
		return raw
	case []any:
		out := make([]string, 0, len(raw))
		for _, e := range raw {
			s, ok := e.(string)
			if !ok || s == "" {
				d.fail(key, "a list of paths", raw)
				return nil
			}
			out = append(out, s)
		}
		return out
	case nil:
		return nil
	default:
		d.fail(key, "a path or a list of paths", raw)
		return nil
	}
}

func (d *decoder) int(key string) int {
	raw := d.v.Get(key)
	switch x := raw.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x)
		}
	}
	d.fail(key, "an integer", raw)
	return 0
}

func (d *decoder) float(key string) float64 {
	raw := d.v.Get(key)
	switch x := raw.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	}
	d.fail(key, "a number", raw)
	return 0
}

func (d *decoder) bool(key string) bool {
	raw := d.v.Get(key)
	if b, ok := raw.(bool); ok {
		return b
	}
	d.fail(key, "true or false", raw)
	return false
}

func (d *decoder) floats(key string) []float64 {
	raw := d.v.Get(key)
	list, ok := raw.([]any)
	if !ok {
		if fs, ok := raw.([]float64); ok {
			return fs
		}
		d.fail(key, "a list of numbers", raw)
		return nil
	}
	out := make([]float64, len(list))
	for i, e := range list {
		switch x := e.(type) {
		case int:
			out[i] = float64(x)
		case float64:
			out[i] = x
		default:
			d.fail(key, "a list of numbers", raw)
			return nil
		}
	}
	return out
}

func (d *decoder) ints(key string) []int {
	raw := d.v.Get(key)
	list, ok := raw.([]any)
	if !ok {
		if is, ok := raw.([]int); ok {
			return is
		}
		d.fail(key, "a list of integers", raw)
		return nil
	}
	out := make([]int, len(list))
	for i, e := range list {
		x, ok := e.(int)
		if !ok {
			d.fail(key, "a list of integers", raw)
			return nil
		}
		out[i] = x
	}
	return out
}

func (d *decoder) weights(key string) map[string]float64 {
	raw := d.v.Get(key)
	m, ok := raw.(map[string]any)
	if !ok {
		d.fail(key, "a map of layer: weight", raw)
		return nil
	}
	out := make(map[string]float64, len(m))
	for layer, w := range m {
		f, err := cast.ToFloat64E(w)
		if _, isStr := w.(string); err != nil || isStr || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			d.fail(key+"."+layer, "a finite weight >= 0", w)
			return nil
		}
		name := Layer(layer)
		if _, twice := out[name]; twice {
			d.fail(key+"."+layer, "one weight for "+name+" (relu<b>_<c> is conv<b>_<c>'s alias)", w)
			return nil
		}
		out[name] = f
	}
	return out
}

// describe shows a bad value on one line, cut when long.
func describe(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		s = x
	default:
		s = fmt.Sprintf("%v", v)
	}
	if r := []rune(s); len(r) > 80 {
		s = string(r[:77]) + "..."
	}
	if _, isString := v.(string); isString || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}
