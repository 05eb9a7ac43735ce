package ablate

import (
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alexnetc/alexnetc/spec"
)

// Report is an ablation's figures: what results.json holds.
type Report struct {
	Network     string           `json:"network"`
	Spec        string           `json:"spec"`
	Budget      string           `json:"budget"`
	Seeds       []int            `json:"seeds"`
	TrainImages int              `json:"train_images"`
	TestImages  int              `json:"test_images"`
	TargetError float64          `json:"target_error"`
	SmoothHalf  int              `json:"smooth_half_width_steps"`
	Seconds     float64          `json:"training_seconds"` // all runs' training time together
	Variants    []*VariantReport `json:"variants"`
}

// Stat is a figure over seeds: the mean, the sample standard deviation
// (n − 1 in the denominator; 0 for one seed) and the number of seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

func statOf(xs []float64) Stat {
	s := Stat{N: len(xs)}
	if s.N == 0 {
		return s
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, x := range xs {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
	}
	return s
}

// Delta is a variant's difference from the base in one error.
type Delta struct {
	Value float64 `json:"value"`
	// Spread is the larger of the two standard deviations over seeds;
	// WithinSpread says |Value| < Spread. Without two seeds on both sides
	// there is no spread and WithinSpread is false.
	Spread       float64 `json:"spread"`
	WithinSpread bool    `json:"within_spread"`
	HasSpread    bool    `json:"has_spread"`
}

func deltaOf(v, base Stat) *Delta {
	d := &Delta{Value: v.Mean - base.Mean, Spread: max(v.Std, base.Std), HasSpread: v.N > 1 && base.N > 1}
	d.WithinSpread = d.HasSpread && math.Abs(d.Value) < d.Spread
	return d
}

// Ratio is a variant's time (or epochs) to the target training error over
// the base's. LowerBound marks a variant that did not reach the target in
// some run: the time of that run's whole training stands in for it, so the
// true ratio is larger.
type Ratio struct {
	Value      float64 `json:"value"`
	LowerBound bool    `json:"lower_bound"`
}

// VariantReport is one line of the table.
type VariantReport struct {
	Name               string   `json:"name"`
	Doc                string   `json:"doc,omitempty"`
	Paper              string   `json:"paper,omitempty"`
	Patch              []string `json:"patch,omitempty"`
	SharesTrainingWith string   `json:"shares_training_with,omitempty"`
	Params             int64    `json:"params"`
	MACs               int64    `json:"macs_per_image"`
	Views              int      `json:"views"` // its [eval] views: what Top1 and Top5 are measured on

	Top1Centre  Stat `json:"top1_centre"`
	Top5Centre  Stat `json:"top5_centre"`
	Top1TenView Stat `json:"top1_ten_view"`
	Top5TenView Stat `json:"top5_ten_view"`
	Top1        Stat `json:"top1"`
	Top5        Stat `json:"top5"`

	DeltaTop1 *Delta `json:"delta_top1,omitempty"` // vs the base, each under its own views
	DeltaTop5 *Delta `json:"delta_top5,omitempty"`

	Reached         int    `json:"reached"` // runs that reached the target training error
	EpochsToTarget  Stat   `json:"epochs_to_target"`
	SecondsToTarget Stat   `json:"seconds_to_target"`
	EpochsRatio     *Ratio `json:"epochs_ratio,omitempty"`
	SecondsRatio    *Ratio `json:"seconds_ratio,omitempty"`

	Epochs          Stat `json:"epochs"`
	Seconds         Stat `json:"seconds"`
	FinalTrainError Stat `json:"final_train_error"`
	ImagesPerSecond Stat `json:"images_per_second"`

	Runs []*RunResult `json:"runs"`

	// For ratios with a lower bound: each run's time to target, or its
	// whole training when it never reached the target.
	boundEpochs, boundSeconds []float64
	tanhOf                    bool // its network replaces ReLUs of the base's with tanh units
}

// report builds the report from the runs so far and writes every output.
func (a *ablation) report() (*Report, error) {
	cfg := a.cfg
	rep := &Report{Network: a.nets[0].net.Name, Spec: cfg.Spec.File, Seeds: cfg.Seeds, TargetError: cfg.TargetError,
		SmoothHalf: SmoothHalf, Budget: cfg.Budget.resolve(cfg.Spec.Train.Epochs).String()}
	for _, n := range a.nets {
		src := n.v.Name
		if n.shares {
			src = BaseName
		}
		vr := &VariantReport{Name: n.v.Name, Doc: n.v.Doc, Paper: n.v.Paper, Patch: n.v.patchText(),
			Params: n.net.Params, MACs: n.net.MACs, Views: n.net.Spec.Eval.Views, tanhOf: replacesReLU(a.nets[0].net.Spec, n.net.Spec)}
		if n.shares {
			vr.SharesTrainingWith = BaseName
		}
		var t1c, t5c, t1t, t5t, t1, t5, ep, sec, fte, ips, rEp, rSec []float64
		for _, seed := range cfg.Seeds {
			r := a.runs[src][seed]
			if r == nil {
				continue
			}
			vr.Runs = append(vr.Runs, r)
			if src == BaseName && rep.TrainImages == 0 {
				rep.TrainImages, rep.TestImages = r.TrainImages, r.TestImages
			}
			if !n.shares {
				rep.Seconds += r.Seconds
			}
			t1c, t5c = append(t1c, r.Centre.Top1), append(t5c, r.Centre.Top5)
			t1t, t5t = append(t1t, r.TenView.Top1), append(t5t, r.TenView.Top5)
			own := r.Centre
			if vr.Views == 10 {
				own = r.TenView
			}
			t1, t5 = append(t1, own.Top1), append(t5, own.Top5)
			ep, sec = append(ep, float64(r.Epochs)), append(sec, r.Seconds)
			fte, ips = append(fte, r.FinalTrainError), append(ips, r.ImagesPerSecond)
			if r.Reach != nil {
				vr.Reached++
				rEp, rSec = append(rEp, r.Reach.Epochs), append(rSec, r.Reach.Seconds)
				vr.boundEpochs = append(vr.boundEpochs, r.Reach.Epochs)
				vr.boundSeconds = append(vr.boundSeconds, r.Reach.Seconds)
			} else {
				vr.boundEpochs = append(vr.boundEpochs, float64(r.Epochs))
				vr.boundSeconds = append(vr.boundSeconds, r.Seconds)
			}
		}
		vr.Top1Centre, vr.Top5Centre, vr.Top1TenView, vr.Top5TenView = statOf(t1c), statOf(t5c), statOf(t1t), statOf(t5t)
		vr.Top1, vr.Top5 = statOf(t1), statOf(t5)
		vr.Epochs, vr.Seconds, vr.FinalTrainError, vr.ImagesPerSecond = statOf(ep), statOf(sec), statOf(fte), statOf(ips)
		vr.EpochsToTarget, vr.SecondsToTarget = statOf(rEp), statOf(rSec)
		rep.Variants = append(rep.Variants, vr)
	}
	base := rep.Variants[0]
	for _, vr := range rep.Variants[1:] {
		if len(vr.Runs) == 0 || len(base.Runs) == 0 {
			continue
		}
		vr.DeltaTop1, vr.DeltaTop5 = deltaOf(vr.Top1, base.Top1), deltaOf(vr.Top5, base.Top5)
		vr.EpochsRatio = ratioOf(vr, base, vr.boundEpochs, base.EpochsToTarget)
		vr.SecondsRatio = ratioOf(vr, base, vr.boundSeconds, base.SecondsToTarget)
	}
	if err := a.write(rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// ratioOf is the variant's mean time to target over the base's, when every
// run of the base reached it.
func ratioOf(vr, base *VariantReport, bound []float64, baseTo Stat) *Ratio {
	if base.Reached == 0 || base.Reached < len(base.Runs) || baseTo.Mean <= 0 || len(vr.Runs) == 0 {
		return nil
	}
	return &Ratio{Value: statOf(bound).Mean / baseTo.Mean, LowerBound: vr.Reached < len(vr.Runs)}
}

// replacesReLU reports whether variant turns some of base's ReLU layers
// into tanh layers: the paper's Figure 1 comparison.
func replacesReLU(base, variant *spec.Spec) bool {
	for _, l := range variant.Layers {
		if b := base.Layer(l.Name); b != nil && b.Act == spec.ReLU && l.Act == spec.Tanh {
			return true
		}
	}
	return false
}

func (a *ablation) write(rep *Report) error {
	out := a.cfg.Out
	if err := writeJSON(filepath.Join(out, JSONFile), rep); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(out, MarkdownFile), []byte(Markdown(rep))); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(out, CSVFile), []byte(csvOf(rep))); err != nil {
		return err
	}
	return plotCurves(out, rep)
}

// Markdown renders the report as a table with its notes.
func Markdown(rep *Report) string {
	var b strings.Builder
	pct := int(math.Round(100 * rep.TargetError))
	fmt.Fprintf(&b, "# Ablations of %s (%s)\n\n", rep.Network, rep.Spec)
	if base := rep.Variants[0]; base.Doc != "" && strings.HasPrefix(base.Doc, "the spec's variant") {
		fmt.Fprintf(&b, "The base is %s.\n\n", base.Doc)
	}
	seeds := make([]string, len(rep.Seeds))
	for i, s := range rep.Seeds {
		seeds[i] = strconv.Itoa(s)
	}
	fmt.Fprintf(&b, "Budget: %s per run. Seeds: %s. Data: %s training and %s test images. Training time of all runs: %s.\n\n",
		rep.Budget, strings.Join(seeds, ", "), commas(int64(rep.TrainImages)), commas(int64(rep.TestImages)), seconds(rep.Seconds))
	fmt.Fprintf(&b, "| variant | the paper's effect | params | MACs | top-1 centre | top-5 centre | top-1 10 views | top-5 10 views | Δ top-1 | Δ top-5 | epochs to %d%% | seconds to %d%% |\n", pct, pct)
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, v := range rep.Variants {
		name := "`" + v.Name + "`"
		if v.SharesTrainingWith != "" {
			name += " †"
		}
		if len(v.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | not run yet |%s\n", name, cell(v.Paper), commas(v.Params), mega(v.MACs), strings.Repeat(" |", 7))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			name, cell(v.Paper), commas(v.Params), mega(v.MACs),
			percent(v.Top1Centre), percent(v.Top5Centre), percent(v.Top1TenView), percent(v.Top5TenView),
			deltaText(v.DeltaTop1), deltaText(v.DeltaTop5),
			toTarget(v, v.EpochsToTarget, v.EpochsRatio, "%.2f"), toTarget(v, v.SecondsToTarget, v.SecondsRatio, "%.0f"))
	}
	b.WriteString("\n")
	for _, v := range rep.Variants[1:] {
		if !v.tanhOf || len(v.Runs) == 0 {
			continue
		}
		b.WriteString(tanhText(v, pct))
	}
	b.WriteString("How to read it:\n\n")
	b.WriteString("- Errors are test-set errors in percent, mean ± sample standard deviation over the seeds (no ± with one seed).\n")
	b.WriteString("- Δ is the variant's error minus the base's, in percentage points, each under its own `[eval] views` (so the ten-view variant's Δ is the gain of ten views); " +
		"*within spread* marks a |Δ| smaller than the larger of the two standard deviations: such a difference is not told apart from seed-to-seed noise.\n")
	fmt.Fprintf(&b, "- Epochs and seconds to %d%%: when the training error (top-1, per batch as augmented, each step averaged with the %d before and after it; fewer at the start and in epochs shorter than 40 steps, the last ones at the end) first reaches %d%%, "+
		"interpolated linearly between steps; mean over the runs that reached it, with the ratio to the base in brackets. "+
		"*reached by k/n* counts the runs that reached it; a ratio written > uses a run's whole training for a run that never reached it, so the true ratio is larger. "+
		"Seconds are training time on this machine, evaluation not counted.\n", pct, rep.SmoothHalf, pct)
	b.WriteString("- † shares the base's runs: only `[eval]` differs, so the same trained networks are tested another way.\n")
	fmt.Fprintf(&b, "- Curves: `%s`, `%s` (mean over seeds); per-run figures: `%s`; everything: `%s`.\n", EpochCurvesFile, TimeCurvesFile, CSVFile, JSONFile)
	return b.String()
}

// tanhText is the ReLU-vs-tanh sentence under the table.
func tanhText(v *VariantReport, pct int) string {
	head := fmt.Sprintf("**ReLU vs tanh** (`%s`): ", v.Name)
	tail := "; the paper (Figure 1, four-layer CIFAR-10 net): 6×.\n\n"
	if v.EpochsRatio == nil || v.SecondsRatio == nil {
		return head + fmt.Sprintf("the ReLU network (the base) did not reach %d%% training error in every run, so there is no ratio; "+
			"lower --target-error or raise --budget", pct) + tail
	}
	return head + fmt.Sprintf("to reach %d%% training error the tanh network takes %s the epochs and %s the training time of the ReLU network",
		pct, ratioText(v.EpochsRatio), ratioText(v.SecondsRatio)) + tail
}

func cell(s string) string {
	if s == "" {
		return ""
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

func percent(s Stat) string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 {
		return fmt.Sprintf("%.2f", 100*s.Mean)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.Std)
}

func deltaText(d *Delta) string {
	if d == nil {
		return ""
	}
	t := fmt.Sprintf("%+.2f", 100*d.Value)
	if d.WithinSpread {
		t += " (within spread)"
	}
	return t
}

func toTarget(v *VariantReport, s Stat, r *Ratio, format string) string {
	if v.Reached == 0 {
		return fmt.Sprintf("not reached (0/%d; last epoch %.1f%%)", len(v.Runs), 100*v.FinalTrainError.Mean)
	}
	t := fmt.Sprintf(format, s.Mean)
	if s.N > 1 {
		t += " ± " + fmt.Sprintf(format, s.Std)
	}
	if v.Reached < len(v.Runs) {
		t += fmt.Sprintf(", reached by %d/%d", v.Reached, len(v.Runs))
	}
	if r != nil {
		t += " (" + ratioText(r) + ")"
	}
	return t
}

func ratioText(r *Ratio) string {
	if r.LowerBound {
		return fmt.Sprintf("> %.2f×", r.Value)
	}
	return fmt.Sprintf("%.2f×", r.Value)
}

// csvOf writes one row per network and seed.
func csvOf(rep *Report) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"variant", "seed", "shares_training_with", "params", "macs", "views", "epochs", "steps", "seconds", "images_per_second",
		"final_train_error", "centre_loss", "centre_top1", "centre_top5", "ten_view_loss", "ten_view_top1", "ten_view_top5",
		"target_error", "epochs_to_target", "seconds_to_target", "dir"})
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	for _, v := range rep.Variants {
		for _, r := range v.Runs {
			ep, sec := "", ""
			if r.Reach != nil {
				ep, sec = f(r.Reach.Epochs), f(r.Reach.Seconds)
			}
			w.Write([]string{v.Name, strconv.Itoa(r.Seed), v.SharesTrainingWith, strconv.FormatInt(v.Params, 10), strconv.FormatInt(v.MACs, 10),
				strconv.Itoa(v.Views), strconv.Itoa(r.Epochs), strconv.Itoa(r.Steps), f(r.Seconds), f(r.ImagesPerSecond),
				f(r.FinalTrainError), f(r.Centre.Loss), f(r.Centre.Top1), f(r.Centre.Top5), f(r.TenView.Loss), f(r.TenView.Top1), f(r.TenView.Top5),
				f(r.Target), ep, sec, r.Dir})
		}
	}
	w.Flush()
	return b.String()
}

func reachText(r *Reach, target float64) string {
	if r == nil {
		return fmt.Sprintf("never reached %.0f%% training error", 100*target)
	}
	return fmt.Sprintf("%.0f%% training error after %.2f epochs, %s", 100*target, r.Epochs, seconds(r.Seconds))
}

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	parts = append([]string{s}, parts...)
	out := strings.Join(parts, ",")
	if neg {
		out = "-" + out
	}
	return out
}

func mega(n int64) string {
	if n >= 1e9 {
		return fmt.Sprintf("%.2f G", float64(n)/1e9)
	}
	return fmt.Sprintf("%.2f M", float64(n)/1e6)
}
