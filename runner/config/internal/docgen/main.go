// Command docgen rewrites the config reference of a Markdown file (the
// README) from config.ReferenceMarkdown(): the lines between
// "<!-- config-reference:begin -->" and "<!-- config-reference:end -->".
// `make docs` runs it; a test in runner/config fails when they drift.
//
//	go run ./runner/config/internal/docgen README.md
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/styletransfer/gostyle/runner/config"
)

const (
	begin = "<!-- config-reference:begin -->\n"
	end   = "<!-- config-reference:end -->"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: docgen README.md")
		os.Exit(2)
	}
	if err := rewrite(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

// rewrite replaces the block in path, atomically, and only when it changed.
func rewrite(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := splice(doc, config.ReferenceMarkdown())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(out, doc) {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".docgen-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// splice puts block between the markers of doc, which must appear once each, in order.
func splice(doc []byte, block string) ([]byte, error) {
	before, rest, ok := bytes.Cut(doc, []byte(begin))
	if !ok {
		return nil, errors.New("no line " + begin[:len(begin)-1])
	}
	_, after, ok := bytes.Cut(rest, []byte(end))
	if !ok {
		return nil, errors.New("no " + end + " after " + begin[:len(begin)-1])
	}
	if bytes.Contains(after, []byte(begin)) || bytes.Contains(before, []byte(end)) {
		return nil, errors.New("the config-reference markers appear more than once")
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(begin)
	b.WriteString(block)
	b.WriteString(end)
	b.Write(after)
	return b.Bytes(), nil
}
