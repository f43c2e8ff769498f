// Command demo shows the progress reporter as the runner uses it, on a
// stand-in loop (falling losses, a fixed pace) so the bar and the log lines
// can be watched and captured without TensorFlow:
//
//	go run ./runner/progress/internal/demo [-points 2] [-iterations 200] [-log-format text|json] [-every 50]
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/styletransfer/gostyle/runner/progress"
)

func main() {
	var opts progress.Options
	flag.Var(&opts.Format, "log-format", "text or json (off a terminal)")
	flag.IntVar(&opts.Every, "every", 50, "log a line every N iterations (off a terminal)")
	flag.BoolVar(&opts.Quiet, "quiet", false, "errors only")
	points := flag.Int("points", 2, "sweep points")
	iterations := flag.Int("iterations", 200, "iterations per point")
	pace := flag.Duration("pace", 15*time.Millisecond, "time per iteration")
	flag.Parse()

	r := progress.New(os.Stderr, opts)
	r.Logger().Info("model", "weights", "random (demo)")
	for p := 0; p < *points; p++ {
		r.Point(p, *points)
		r.Start(fmt.Sprintf("shipwreck_starry_night/style_weight=%d", 100*(p+1)), *iterations)
		for it := 0; it <= *iterations; it++ {
			total := 1.3e8 * math.Exp(-float64(it)/30) * float64(p+1)
			r.Step(it, float32(total), float32(total/1e4), float32(total*0.99), 0)
			if it > 0 && it%100 == 0 {
				r.Logger().Info("checkpoint", "file", fmt.Sprintf("styled_%04d.png", it))
			}
			time.Sleep(*pace)
		}
		r.Finish()
	}
	r.Point(*points, *points)
}
