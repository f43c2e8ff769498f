package graphs

import (
	"path/filepath"
	"regexp"
)

// makeRule matches the model folders the Makefile's models/<arch>-random[-max] rule makes
// (full width, random weights, seed 0); `make models` makes the ones the shipped configs name.
var makeRule = regexp.MustCompile(`^vgg(16|19)-random(-max)?$`)

// exportHint says how to make the missing model folder dir: `make models/<name>` where the
// Makefile has a rule for it (run from the repository root), else `make export`.
func exportHint(dir string) string {
	clean := filepath.Clean(dir)
	name := filepath.Base(clean)
	if filepath.Base(filepath.Dir(clean)) == "models" && makeRule.MatchString(name) {
		return "make it with `make models/" + name + "`, or every shipped config's model with `make models`"
	}
	return "export one with `make export`"
}
