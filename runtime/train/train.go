package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Config is one training run.
type Config struct {
	Plan *plan.Plan
	// Backend runs the plan; nil makes the CPU engine's (engine.NewCPU).
	Backend     device.Backend
	Train, Test *data.Set
	Epochs      int // 0 takes [train] epochs
	// MaxSteps stops the run after that many training steps in all
	// (counted across resumes), with a checkpoint and the weights saved and
	// every step's loss logged; 0 runs every epoch.
	MaxSteps int
	Out      string // the folder for checkpoints, weights, metrics and curves
	Resume   bool   // continue from Out/checkpoint.safetensors if it exists

	// CheckpointEvery saves a checkpoint every that many steps, besides the
	// one at the end of every epoch; 0 saves only per epoch.
	CheckpointEvery int
	Workers         int // data preparation goroutines; 0: one per core

	Log      io.Writer // progress and log lines
	Terminal bool      // Log is a terminal: draw a progress bar instead of log lines

	// OnStep, when set, is called after every training step with the step
	// number (from 1, counted across epochs and resumes), the training
	// seconds so far (counted as EpochReport.Seconds is), and the step's
	// loss and top-1 error on its batch.
	OnStep func(step int, seconds, loss, err float64)
}

// Result is what a run produced.
type Result struct {
	History []EpochReport
	Backend device.Backend
	Engine  *engine.Engine // the CPU engine, when Backend is the CPU's
	Stats   *data.Stats
}

// ErrInterrupted is returned when the context is cancelled (SIGINT or
// SIGTERM): a checkpoint was saved first.
var ErrInterrupted = errors.New("interrupted; checkpoint saved, continue with --resume")

// Checkpoint, weights, metrics and curves file names inside Config.Out.
const (
	CheckpointFile = "checkpoint.safetensors"
	WeightsFile    = "weights.safetensors"
	MetricsFile    = "metrics.jsonl"
	CurvesFile     = "curves.png"
)

// Run trains the network. Cancelling ctx saves a checkpoint and returns
// ErrInterrupted.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	g := cfg.Plan
	epochs := cfg.Epochs
	if epochs == 0 {
		epochs = g.Train.Epochs
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	seed := g.Train.Seed
	e := cfg.Backend
	if e == nil {
		e = engine.NewCPU(cfg.Plan, seed)
	}
	if err := InitWeights(e, seed); err != nil {
		return nil, err
	}
	stats := data.ComputeStats(cfg.Train)
	aug := data.AugmentOf(g.Data)
	loader, err := data.NewLoader(cfg.Train, stats, aug, data.Options{Batch: g.Batch, Seed: seed, Workers: cfg.Workers})
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	evalAug := aug
	evalAug.RandomCrop, evalAug.Flip, evalAug.Lighting = false, false, 0
	evaluator, err := data.NewEvalLoader(cfg.Test, stats, evalAug, g.Eval.Views, data.Options{Batch: g.Batch, Workers: cfg.Workers})
	if err != nil {
		return nil, err
	}
	defer evaluator.Close()

	sched := NewSchedule(g.Train.Schedule, g.Train.LR)
	st := &State{Network: g.Network, Variant: g.Variant, Seed: seed}
	ckpt := filepath.Join(cfg.Out, CheckpointFile)
	if cfg.Resume {
		loaded, err := LoadCheckpoint(ckpt, e)
		switch {
		case errors.Is(err, ErrNoCheckpoint):
			fmt.Fprintf(cfg.Log, "no checkpoint in %s: starting from the beginning\n", cfg.Out)
		case err != nil:
			return nil, err
		default:
			st = loaded
			sched.LR, sched.Best, sched.Stale, sched.Drops = st.LR, st.Best, st.Stale, st.Drops
			fmt.Fprintf(cfg.Log, "resuming from %s: epoch %d, batch %d, step %d, learning rate %g\n", ckpt, st.Epoch+1, st.Batch, st.Step, st.LR)
		}
	}
	save := func() error {
		st.LR, st.Best, st.Stale, st.Drops = sched.LR, sched.Best, sched.Stale, sched.Drops
		return SaveCheckpoint(ckpt, e, st)
	}

	classes := g.Model.Classes
	x := make([]float32, g.Buffer(g.Model.Input).Elems())
	labels := make([]int32, g.Batch)
	prob := make([]float32, g.Batch*classes)
	bpe := loader.BatchesPerEpoch()
	start := time.Now()
	stopped := false
	for st.Epoch < epochs && !stopped {
		loader.Seek(st.Epoch, st.Batch)
		bar := newProgress(cfg, st.Epoch+1, epochs, bpe)
		for st.Batch < bpe {
			if !loader.Next(x, labels) {
				break
			}
			loss, err := trainStep(e, float32(sched.LR), x, labels, prob)
			if err != nil {
				return nil, err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, diverged(e, st, loss, sched.LR)
			}
			st.Batch++
			st.Step++
			st.EpochLoss += loss
			errs := topErrors(prob, labels, classes)
			st.EpochErrors += errs
			st.EpochImages += g.Batch
			elapsed := st.Seconds + time.Since(start).Seconds()
			bar.step(st, elapsed)
			if cfg.OnStep != nil {
				cfg.OnStep(st.Step, elapsed, loss, float64(errs)/float64(g.Batch))
			}
			if cfg.MaxSteps > 0 {
				fmt.Fprintf(cfg.Log, "step %d: loss %.9g\n", st.Step, loss)
				if st.Step >= cfg.MaxSteps {
					stopped = true
					break
				}
			}
			if cfg.CheckpointEvery > 0 && st.Step%cfg.CheckpointEvery == 0 && st.Batch < bpe {
				st.Seconds = elapsed
				start = time.Now()
				if err := save(); err != nil {
					return nil, err
				}
			}
			select {
			case <-ctx.Done():
				st.Seconds += time.Since(start).Seconds()
				bar.finish()
				if err := save(); err != nil {
					return nil, err
				}
				return nil, ErrInterrupted
			default:
			}
		}
		bar.finish()
		st.Seconds += time.Since(start).Seconds()
		if stopped {
			start = time.Now()
			fmt.Fprintf(cfg.Log, "stopped after %d step(s) (--max-steps), in epoch %d at batch %d of %d\n", st.Step, st.Epoch+1, st.Batch, bpe)
			if err := save(); err != nil {
				return nil, err
			}
			break
		}
		rep := EpochReport{Epoch: st.Epoch + 1, Step: st.Step, LR: sched.LR,
			TrainLoss:  st.EpochLoss / float64(max(st.Batch, 1)),
			TrainError: float64(st.EpochErrors) / float64(max(st.EpochImages, 1)),
			Seconds:    st.Seconds, ImagesPerS: float64(st.Step*g.Batch) / st.Seconds, Skipped: cfg.Train.Skipped}
		rep.ValLoss, rep.ValTop1, rep.ValTop5, err = Evaluate(e, evaluator, classes)
		if err != nil {
			return nil, err
		}
		st.History = append(st.History, rep)
		fmt.Fprintf(cfg.Log, "epoch %d/%d: loss %.4f, training error %.2f%%, test error %.2f%% top-1, %.2f%% top-5 (%d view(s)), %.0f images/s, %s\n",
			rep.Epoch, epochs, rep.TrainLoss, 100*rep.TrainError, 100*rep.ValTop1, 100*rep.ValTop5, g.Eval.Views, rep.ImagesPerS, duration(rep.Seconds))
		if msg := sched.EndEpoch(rep.Epoch, rep.ValTop1); msg != "" {
			fmt.Fprintln(cfg.Log, msg)
		}
		st.Epoch++
		st.Batch, st.EpochLoss, st.EpochErrors, st.EpochImages = 0, 0, 0, 0
		start = time.Now()
		if err := save(); err != nil {
			return nil, err
		}
		if err := writeReports(cfg.Out, st.History, g.Network); err != nil {
			return nil, err
		}
	}
	meta := map[string]string{"network": g.Network, "variant": g.Variant, "format": "alexnetc"}
	if err := SaveWeights(filepath.Join(cfg.Out, WeightsFile), e, meta, stats, cfg.Train.Classes); err != nil {
		return nil, err
	}
	res := &Result{History: st.History, Backend: e, Stats: stats}
	if c, ok := e.(engine.CPU); ok {
		res.Engine = c.Engine
	}
	return res, nil
}

// InitWeights draws every weight and bias from its initialiser as the plan
// records it (paper §5), parameter i from its own stream of the seed, as
// engine.Init does, and zeroes the momenta.
func InitWeights(e device.Backend, seed uint64) error {
	p := e.Plan()
	for i, b := range p.Params() {
		w := make([]float32, b.Elems())
		engine.Fill(w, b.Init, cpu.NewRNG(seed, cpu.ParamStream(i)))
		if err := e.Write(plan.Train, b.Name, w); err != nil {
			return err
		}
		if err := e.Write(plan.Train, b.Name+".momentum", make([]float32, b.Elems())); err != nil {
			return err
		}
	}
	return nil
}

// trainStep runs one training step on a batch and reads back its loss and
// probabilities.
func trainStep(e device.Backend, lr float32, x []float32, labels []int32, prob []float32) (float64, error) {
	p := e.Plan()
	if err := e.Write(plan.Train, p.Model.Input, x); err != nil {
		return 0, err
	}
	if err := e.Write(plan.Train, p.Model.Labels, labels); err != nil {
		return 0, err
	}
	e.SetLR(lr)
	if err := e.Run(plan.Train); err != nil {
		return 0, err
	}
	if err := e.Read(plan.Train, p.Model.Probabilities, prob); err != nil {
		return 0, err
	}
	return e.Loss()
}

// Evaluate runs the inference program over an evaluation set and returns the
// mean loss and the top-1 and top-5 errors, the softmax averaged over each
// image's views.
func Evaluate(e device.Backend, ev *data.EvalLoader, classes int) (loss, top1, top5 float64, err error) {
	g := e.Plan()
	x := make([]float32, g.Buffer(g.Model.Input).Elems())
	prob := make([]float32, g.Batch*classes)
	labels := make([]int32, g.Batch)
	score := data.NewScore(classes, ev.Views())
	ev.Reset()
	var sum float64
	var rows int
	for n := ev.Next(x, labels); n > 0; n = ev.Next(x, labels) {
		if err := e.Write(plan.Infer, g.Model.Input, x); err != nil {
			return 0, 0, 0, err
		}
		if err := e.Run(plan.Infer); err != nil {
			return 0, 0, 0, err
		}
		if err := e.Read(plan.Infer, g.Model.Probabilities, prob); err != nil {
			return 0, 0, 0, err
		}
		score.Add(prob, labels, n)
		for i := 0; i < n; i++ {
			if labels[i] >= 0 {
				sum -= math.Log(max(float64(prob[i*classes+int(labels[i])]), 1e-30))
				rows++
			}
		}
	}
	return sum / float64(max(rows, 1)), score.Top1Error(), score.Top5Error(), nil
}

// topErrors counts the batch's images whose most probable class is not the
// label.
func topErrors(prob []float32, labels []int32, classes int) int {
	errs := 0
	for i, l := range labels {
		if !data.TopK(prob[i*classes:(i+1)*classes], l, 1) {
			errs++
		}
	}
	return errs
}

// diverged explains a loss that is no longer a number: where it started,
// and what to try.
func diverged(b device.Backend, st *State, loss, lr float64) error {
	where := "no layer's weights or outputs (the loss itself overflowed)"
	e, ok := b.(engine.CPU)
	if !ok {
		where = "a place only the CPU backend can find (run again with --device cpu from the last checkpoint to see it)"
	}
	// The update has already spread the damage to the weights; the first
	// layer whose weights or output are not finite is where it entered.
	if ok {
		e.RunChecked(plan.Infer, func(s *plan.Step) bool {
			for _, a := range s.Args {
				if a.Buf.DType == plan.F32 && a.Buf.Role != plan.Scratch && !finite(e.F32(plan.Infer, a.Buf.Name)) {
					where = fmt.Sprintf("layer %s (%s %s)", s.Layer, a.Buf.Role, a.Buf.Name)
					return false
				}
			}
			return true
		})
	}
	return fmt.Errorf("the loss is %v at step %d (epoch %d, batch %d); the first values that are not finite are in %s. "+
		"Hint: the learning rate %g may be too high for this network and initialisation: lower [train] lr or the weights' std, "+
		"and start again, or continue from the last checkpoint with --resume",
		loss, st.Step+1, st.Epoch+1, st.Batch+1, where, lr)
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// writeReports rewrites the metrics (a JSON line per epoch) and the curves
// from the whole history, so a resumed run leaves no duplicate lines.
func writeReports(out string, history []EpochReport, name string) error {
	var b strings.Builder
	for _, r := range history {
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := writeAtomic(filepath.Join(out, MetricsFile), []byte(b.String())); err != nil {
		return err
	}
	return PlotCurves(filepath.Join(out, CurvesFile), name, history)
}

func duration(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// progress shows the epoch's steps: a bar with loss, error, images/s and ETA
// on a terminal, a log line every tenth of an epoch otherwise.
type progress struct {
	cfg   Config
	bar   *progressbar.ProgressBar
	epoch int
	of    int
	total int
	batch int
}

func newProgress(cfg Config, epoch, epochs, batches int) *progress {
	p := &progress{cfg: cfg, epoch: epoch, of: epochs, total: batches}
	if cfg.Terminal {
		p.bar = progressbar.NewOptions(batches,
			progressbar.OptionSetWriter(cfg.Log),
			progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, epochs)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) step(st *State, elapsed float64) {
	loss := st.EpochLoss / float64(max(st.Batch, 1))
	errRate := 100 * float64(st.EpochErrors) / float64(max(st.EpochImages, 1))
	rate := float64(st.Step*p.cfg.Plan.Batch) / max(elapsed, 1e-9)
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("epoch %d/%d loss %.3f err %.1f%% %.0f img/s", p.epoch, p.of, loss, errRate, rate))
		p.bar.Set(st.Batch)
		return
	}
	if every := max(p.total/10, 1); st.Batch%every == 0 || st.Batch == p.total {
		eta := float64(p.total-st.Batch) * elapsed / float64(max(st.Step, 1))
		fmt.Fprintf(p.cfg.Log, "epoch %d/%d batch %d/%d: loss %.4f, training error %.2f%%, %.0f images/s, epoch ends in %s\n",
			p.epoch, p.of, st.Batch, p.total, loss, errRate, rate, duration(eta))
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
