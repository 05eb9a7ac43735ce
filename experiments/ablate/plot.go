package ablate

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// maxPlotPoints bounds the points of one line; longer curves are thinned.
const maxPlotPoints = 1500

// meanCurve averages a network's smoothed training error over its runs,
// step by step, as far as the shortest run goes: x is the epoch (steps /
// steps per epoch) or the mean training time at that step.
func meanCurve(runs []*RunResult, byTime bool) plotter.XYs {
	n := -1
	for _, r := range runs {
		if len(r.steps) == 0 {
			continue
		}
		if n < 0 || len(r.steps) < n {
			n = len(r.steps)
		}
	}
	if n <= 0 {
		return nil
	}
	xs, ys := make([]float64, n), make([]float64, n)
	k := 0
	for _, r := range runs {
		if len(r.steps) == 0 {
			continue
		}
		k++
		sm := smooth(r.steps, halfWidth(r.StepsPerEpoch))
		for i := 0; i < n; i++ {
			ys[i] += sm[i]
			if byTime {
				xs[i] += r.steps[i].Seconds
			} else {
				xs[i] += float64(r.steps[i].Step) / float64(max(r.StepsPerEpoch, 1))
			}
		}
	}
	every := max(1, n/maxPlotPoints)
	var out plotter.XYs
	for i := 0; i < n; i += every {
		out = append(out, plotter.XY{X: xs[i] / float64(k), Y: ys[i] / float64(k)})
	}
	if (n-1)%every != 0 {
		out = append(out, plotter.XY{X: xs[n-1] / float64(k), Y: ys[n-1] / float64(k)})
	}
	return out
}

// plotCurves draws the training error of every network against epochs and
// against training time, in the manner of the paper's Figure 1 (the base
// solid, the variants in colours and dashes), with the target error as a
// dotted line.
func plotCurves(out string, rep *Report) error {
	for _, c := range []struct {
		file   string
		byTime bool
		xLabel string
	}{{EpochCurvesFile, false, "epochs"}, {TimeCurvesFile, true, "training time (seconds)"}} {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s: training error (mean over seeds)", rep.Network)
		p.X.Label.Text = c.xLabel
		p.Y.Label.Text = "training error rate"
		p.Y.Min, p.X.Min = 0, 0
		p.Add(plotter.NewGrid())
		maxX := 0.0
		i := 0
		for _, v := range rep.Variants {
			if v.SharesTrainingWith != "" {
				continue
			}
			xy := meanCurve(v.Runs, c.byTime)
			if len(xy) == 0 {
				continue
			}
			line, err := plotter.NewLine(xy)
			if err != nil {
				return fmt.Errorf("%s: %w", c.file, err)
			}
			line.Width = vg.Points(1.2)
			if i == 0 {
				line.Color = color.Black
				line.Width = vg.Points(1.8)
			} else {
				line.Color = plotutil.DarkColors[(i-1)%len(plotutil.DarkColors)]
				line.Dashes = plotutil.Dashes(i)
			}
			i++
			p.Add(line)
			p.Legend.Add(v.Name, line)
			maxX = max(maxX, xy[len(xy)-1].X)
		}
		if maxX > 0 {
			target, err := plotter.NewLine(plotter.XYs{{X: 0, Y: rep.TargetError}, {X: maxX, Y: rep.TargetError}})
			if err != nil {
				return err
			}
			target.Color = color.Gray{Y: 120}
			target.Dashes = []vg.Length{vg.Points(1), vg.Points(3)}
			p.Add(target)
			p.Legend.Add(fmt.Sprintf("%.0f%%", 100*rep.TargetError), target)
		}
		// Training error falls from the top left: the bottom left stays clear.
		p.Legend.Left = true
		p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(8)
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(out, c.file)); err != nil {
			return err
		}
	}
	return nil
}
