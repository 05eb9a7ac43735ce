package ablate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Budget is how long each run trains: a number of epochs, or a training
// time. The zero Budget takes each network's [train] epochs.
type Budget struct {
	Epochs int           `json:"epochs,omitempty"`
	Time   time.Duration `json:"time_ns,omitempty"`
}

// ParseBudget reads "12e" or "12epochs" (epochs) or a Go duration such as
// "10m", "90s" or "1h30m" (training time per run).
func ParseBudget(s string) (Budget, error) {
	t := strings.TrimSpace(s)
	for _, suffix := range []string{"epochs", "epoch", "e"} {
		if num, ok := strings.CutSuffix(t, suffix); ok {
			n, err := strconv.Atoi(strings.TrimSpace(num))
			if err != nil || n <= 0 {
				return Budget{}, fmt.Errorf("budget %q: want a positive whole number of epochs, such as 3e", s)
			}
			return Budget{Epochs: n}, nil
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil || d <= 0 {
		return Budget{}, fmt.Errorf("budget %q: want epochs (3e) or a positive training time (10m, 90s, 1h30m)", s)
	}
	return Budget{Time: d}, nil
}

func (b Budget) String() string {
	switch {
	case b.Epochs == 1:
		return "1 epoch"
	case b.Epochs > 0:
		return fmt.Sprintf("%d epochs", b.Epochs)
	case b.Time > 0:
		return fmt.Sprintf("%s of training per run, ending with the epoch in which it runs out", b.Time)
	}
	return "[train] epochs"
}

// resolve gives the budget a run of a network with [train] epochs trains
// under: the zero Budget becomes those epochs.
func (b Budget) resolve(trainEpochs int) Budget {
	if b.Epochs == 0 && b.Time == 0 {
		return Budget{Epochs: trainEpochs}
	}
	return b
}

// extends reports whether b asks for more training of the same kind than a
// run trained under done had, so that the run can go on from where it
// stopped.
func (b Budget) extends(done Budget) bool {
	switch {
	case b.Epochs > 0 && done.Epochs > 0:
		return b.Epochs > done.Epochs
	case b.Time > 0 && done.Time > 0:
		return b.Time > done.Time
	}
	return false
}
