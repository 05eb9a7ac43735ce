package ablate

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// StepsFile is the per-step record of a run, inside the run's folder:
// "step,seconds,loss,error", one line per training step.
const StepsFile = "steps.csv"

// Step is one training step as train.Config.OnStep reports it.
type Step struct {
	Step    int
	Seconds float64 // training time so far, evaluation not counted
	Loss    float64
	Error   float64 // top-1 error on the step's batch
}

// stepLog appends steps to a run's steps.csv as they happen. A resumed run
// repeats the steps after its last checkpoint: the first step reported
// drops every recorded step from it on, so the file never holds a step
// twice nor one whose training was lost.
type stepLog struct {
	path  string
	steps []Step
	f     *os.File
	w     *bufio.Writer
	err   error
}

func openStepLog(path string) (*stepLog, error) {
	steps, err := readSteps(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return &stepLog{path: path, steps: steps}, nil
}

func (l *stepLog) add(step int, seconds, loss, errRate float64) {
	if l.err != nil {
		return
	}
	if l.f == nil {
		keep := len(l.steps)
		for keep > 0 && l.steps[keep-1].Step >= step {
			keep--
		}
		l.steps = l.steps[:keep]
		if l.err = l.rewrite(); l.err != nil {
			return
		}
		l.f, l.err = os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o644)
		if l.err != nil {
			return
		}
		l.w = bufio.NewWriter(l.f)
	}
	s := Step{step, seconds, loss, errRate}
	l.steps = append(l.steps, s)
	_, l.err = fmt.Fprintf(l.w, "%d,%.4f,%.6g,%.6g\n", s.Step, s.Seconds, s.Loss, s.Error)
	// Flush every step: a run killed between checkpoints loses nothing that
	// its checkpoint keeps, and the steps after it are dropped on resume.
	if l.err == nil {
		l.err = l.w.Flush()
	}
}

func (l *stepLog) rewrite() error {
	var b strings.Builder
	b.WriteString("step,seconds,loss,error\n")
	for _, s := range l.steps {
		fmt.Fprintf(&b, "%d,%.4f,%.6g,%.6g\n", s.Step, s.Seconds, s.Loss, s.Error)
	}
	return os.WriteFile(l.path, []byte(b.String()), 0o644)
}

func (l *stepLog) close() error {
	if l.f != nil {
		if err := l.f.Close(); l.err == nil {
			l.err = err
		}
		l.f, l.w = nil, nil
	}
	return l.err
}

// readSteps reads a steps.csv.
func readSteps(path string) ([]Step, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Step
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 || text == "" {
			continue
		}
		fields := strings.Split(text, ",")
		if len(fields) != 4 {
			// A line cut short by a crash: what follows it cannot be trusted.
			break
		}
		var s Step
		var errs [4]error
		s.Step, errs[0] = strconv.Atoi(fields[0])
		s.Seconds, errs[1] = strconv.ParseFloat(fields[1], 64)
		s.Loss, errs[2] = strconv.ParseFloat(fields[2], 64)
		s.Error, errs[3] = strconv.ParseFloat(fields[3], 64)
		if errs[0] != nil || errs[1] != nil || errs[2] != nil || errs[3] != nil {
			break
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// SmoothHalf is the half-width of the moving average that smooths the
// training error curve, for plots and for the time to reach the target
// error: each step is averaged with the 10 before and the 10 after it, 21
// steps in all (2,688 images at batch 128, so one point's standard error at
// 25% error is under 1%). At the start, where the error falls fast, the
// window shrinks to stay centred; at the end it keeps its length and
// reaches back instead. Runs with short epochs average over half an epoch
// at most (halfWidth).
const SmoothHalf = 10

// halfWidth is the smoothing half-width of a run with the given steps per
// epoch.
func halfWidth(stepsPerEpoch int) int { return max(0, min(SmoothHalf, stepsPerEpoch/4)) }

// smooth returns the centred moving average of the steps' errors: step i
// averaged with the half steps on each side; as many on each side as there
// are before it near the start; the last 2·half+1 steps near the end.
func smooth(steps []Step, half int) []float64 {
	n := len(steps)
	out := make([]float64, n)
	prefix := make([]float64, n+1)
	for i, s := range steps {
		prefix[i+1] = prefix[i] + s.Error
	}
	for i := range steps {
		k := min(half, i)
		lo, hi := i-k, i+k+1
		if hi > n {
			lo, hi = max(0, n-(2*half+1)), n
		}
		out[i] = (prefix[hi] - prefix[lo]) / float64(hi-lo)
	}
	return out
}

// Reach is when a run's smoothed training error first reached the target.
type Reach struct {
	Step    int     `json:"step"`
	Epochs  float64 `json:"epochs"` // steps / steps per epoch
	Seconds float64 `json:"seconds"`
}

// reach finds the first step at which the smoothed training error is at or
// below target; nil if it never is. Between the last step above the target
// and the first at or below it, the crossing is placed by linear
// interpolation.
func reach(steps []Step, sm []float64, stepsPerEpoch int, target float64) *Reach {
	for i, e := range sm {
		if e > target {
			continue
		}
		r := &Reach{Step: steps[i].Step, Seconds: steps[i].Seconds}
		x := float64(steps[i].Step)
		if i > 0 && sm[i-1] > e {
			f := (sm[i-1] - target) / (sm[i-1] - e)
			x = float64(steps[i-1].Step) + f*float64(steps[i].Step-steps[i-1].Step)
			r.Seconds = steps[i-1].Seconds + f*(steps[i].Seconds-steps[i-1].Seconds)
		}
		r.Epochs = x / float64(max(stepsPerEpoch, 1))
		return r
	}
	return nil
}
