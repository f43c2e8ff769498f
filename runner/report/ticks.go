package report

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// logTicks marks a log axis with labels formatted for its range: one
// format on the whole axis (plain numbers, or m·10^e written "2e5" once
// the axis reaches 1e5 or goes below 1e-3), and 2 and 5 times each decade
// labelled too when the axis spans less than three decades.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0) || !(max > min) {
		return plot.LogTicks{Prec: -1}.Ticks(min, max)
	}
	lo, hi := math.Floor(math.Log10(min)), math.Ceil(math.Log10(max))
	steps := []float64{1}
	if math.Log10(max/min) < 3 {
		steps = []float64{1, 2, 5}
	}
	sci := max >= 1e5 || min < 1e-3
	var ticks []plot.Tick
	for e := lo; e <= hi; e++ {
		decade := math.Pow(10, e)
		for m := 1.0; m < 10; m++ {
			v := m * decade
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			for _, s := range steps {
				if m == s {
					t.Label = tickLabel(m, e, sci)
				}
			}
			ticks = append(ticks, t)
		}
	}
	if labelled := countLabels(ticks); labelled < 2 { // a narrow range: label its ends
		ticks = append(ticks, plot.Tick{Value: min, Label: plainOrSci(min, sci)}, plot.Tick{Value: max, Label: plainOrSci(max, sci)})
	}
	return ticks
}

func countLabels(ts []plot.Tick) int {
	n := 0
	for _, t := range ts {
		if t.Label != "" {
			n++
		}
	}
	return n
}

func tickLabel(m, e float64, sci bool) string {
	if sci {
		return strconv.FormatFloat(m, 'f', -1, 64) + "e" + strconv.Itoa(int(e))
	}
	return strconv.FormatFloat(m*math.Pow(10, e), 'f', -1, 64)
}

func plainOrSci(v float64, sci bool) string {
	if !sci {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	e := math.Floor(math.Log10(v))
	return strconv.FormatFloat(v/math.Pow(10, e), 'f', 2, 64) + "e" + strconv.Itoa(int(e))
}
