package runner

import "github.com/styletransfer/gostyle/graphs"

// setTV stores the TV coefficients in the targets.
func setTV(t *graphs.Targets, tv tvTerm) error {
	t.TV = graphs.TV{Vertical: float32(tv.vertical), Horizontal: float32(tv.horizontal), Grid: float32(tv.grid), GridPower: float32(tv.gridPower)}
	return nil
}
