package plan

import (
	"math/rand/v2"

	"github.com/styletransfer/gostyle/runner/picture"
)

// StartImage is the first scale's start: init noise is the notebook's
// ratio*U(-20, 20) + (1-ratio)*content, seeded (the same seed gives the same
// picture on one machine); content, style (the first style picture fitted to
// the output) or a picture file otherwise.
func (ex *Experiment) StartImage(content *picture.Tensor) []float32 {
	x := make([]float32, len(content.Data))
	switch ex.cfg.Init {
	case "noise":
		rng := rand.New(rand.NewPCG(uint64(ex.cfg.Seed), 0x5eed))
		r := float32(ex.cfg.NoiseRatio)
		for i, c := range content.Data {
			noise := float32(rng.Float64()*40 - 20)
			x[i] = r*noise + (1-r)*c
		}
	case "content":
		copy(x, content.Data)
	case "style":
		copy(x, ex.fit(ex.styles[0], content.Width, content.Height).Data)
	default:
		copy(x, ex.fit(ex.init, content.Width, content.Height).Data)
	}
	return x
}

// Upsample starts a finer scale from the coarser result, resized with the
// same resizer as the pictures (picture.Fit, Catmull-Rom).
func (ex *Experiment) Upsample(prev *picture.Tensor, width, height int) []float32 {
	return ex.fit(prev.Image(ex.mean), width, height).Data
}
