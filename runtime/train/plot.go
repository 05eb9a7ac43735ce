package train

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// PlotCurves draws the training and test error per epoch, in the manner of
// the paper's Figure 1, as a PNG.
func PlotCurves(path, title string, history []EpochReport) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "error rate"
	p.Y.Min = 0
	var train, top1, top5 plotter.XYs
	for _, r := range history {
		train = append(train, plotter.XY{X: float64(r.Epoch), Y: r.TrainError})
		top1 = append(top1, plotter.XY{X: float64(r.Epoch), Y: r.ValTop1})
		top5 = append(top5, plotter.XY{X: float64(r.Epoch), Y: r.ValTop5})
	}
	for i, c := range []struct {
		name string
		xy   plotter.XYs
	}{{"training error (top-1)", train}, {"test error (top-1)", top1}, {"test error (top-5)", top5}} {
		line, points, err := plotter.NewLinePoints(c.xy)
		if err != nil {
			return fmt.Errorf("curves: %w", err)
		}
		line.Color = plotColors[i]
		points.Color = plotColors[i]
		line.Dashes = plotDashes[i]
		p.Add(line, points)
		p.Legend.Add(c.name, line, points)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

var plotColors = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
}

var plotDashes = [][]vg.Length{nil, {vg.Points(4), vg.Points(2)}, {vg.Points(1), vg.Points(2)}}
