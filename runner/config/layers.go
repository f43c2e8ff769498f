package config

import (
	"regexp"
	"strings"
)

// reluAlias matches jcjohnson/neural-style's layer names (relu4_2): each names the ReLU
// output of the convolution of the same numbers, which is what conv4_2 names here.
var reluAlias = regexp.MustCompile(`^relu(\d+_\d+)$`)

// Layer is the model's name for a layer the user named: lower case, jcjohnson's
// relu<b>_<c> as conv<b>_<c>; other names are returned lower-cased, for the model to
// accept or refuse.
func Layer(name string) string {
	name = strings.ToLower(name)
	if m := reluAlias.FindStringSubmatch(name); m != nil {
		return "conv" + m[1]
	}
	return name
}
