package config

import (
	"fmt"
	"slices"
)

// MaxList bounds every list and map in a config (style, scales,
// style_blend_weights, content_blend_layers, the layer maps): a config of
// a million styles is refused in one line before anything reads them.
const MaxList = 256

// checkBounds refuses a value of doc (the top level of a config, its
// Blocks left to their owners) that holds a list or map longer than
// MaxList, naming the key.
func checkBounds(doc map[string]any) error {
	for k, v := range doc {
		if slices.Contains(Blocks, k) {
			continue
		}
		if err := checkValue(k, v); err != nil {
			return err
		}
	}
	return nil
}

// checkValue is checkBounds for one key's value, nested values included.
func checkValue(key string, v any) error {
	n := 0
	switch x := v.(type) {
	case []any:
		n = len(x)
		for i, e := range x {
			if n <= MaxList {
				if err := checkValue(fmt.Sprintf("%s[%d]", key, i), e); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		n = len(x)
		for k, e := range x {
			if n <= MaxList {
				if err := checkValue(key+"."+k, e); err != nil {
					return err
				}
			}
		}
	}
	if n > MaxList {
		return &keyError{key, fmt.Sprintf("at most %d entries, got %d", MaxList, n)}
	}
	return nil
}
