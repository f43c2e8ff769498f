package report

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/styletransfer/gostyle/runner/picture"
	"github.com/styletransfer/gostyle/runner/rundir"
)

// RunPanels reads the panels of compare.png from a run folder as the runner
// writes it: content.png, style.png (or style_1.png, style_2.png, ... for
// several styles) and final.png, labelled "content", "style" ("style 1",
// ...) and "result". Callers may change the labels (e.g. to file names).
func RunPanels(dir string) ([]Panel, error) {
	content, err := readPNG(filepath.Join(dir, rundir.ContentName))
	if err != nil {
		return nil, err
	}
	panels := []Panel{{"content", content}}
	if style, err := readPNG(filepath.Join(dir, "style.png")); err == nil {
		panels = append(panels, Panel{"style", style})
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else {
		for i := 1; ; i++ {
			style, err := readPNG(filepath.Join(dir, "style_"+strconv.Itoa(i)+".png"))
			if errors.Is(err, fs.ErrNotExist) && i > 1 {
				break
			}
			if err != nil {
				return nil, err
			}
			panels = append(panels, Panel{"style " + strconv.Itoa(i), style})
		}
	}
	result, err := readPNG(filepath.Join(dir, rundir.FinalName))
	if err != nil {
		return nil, err
	}
	return append(panels, Panel{"result", result}), nil
}

// readPNG reads a run folder's picture with picture.Load: a regular file,
// its size checked from the header before it is decoded.
func readPNG(path string) (image.Image, error) {
	img, err := picture.Load(path)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err) // names path
	}
	return img, nil
}
