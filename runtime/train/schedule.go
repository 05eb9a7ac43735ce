// Package train trains a planned network on the CPU engine the way the
// paper did (§5): SGD with momentum and weight decay, a learning rate that
// drops when the validation error stops improving, checkpoints that let an
// interrupted run continue bit for bit, and the figures a researcher reads.
package train

import (
	"fmt"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Schedule is the learning rate and the state that decides its changes.
type Schedule struct {
	Rule  plan.Schedule
	LR    float64 // the rate of the coming epoch
	Best  float64 // the lowest validation error so far (plateau)
	Stale int     // epochs since Best last improved (plateau)
	Drops int     // times the rate has been multiplied by the factor
}

// NewSchedule starts a schedule at the initial rate.
func NewSchedule(rule plan.Schedule, lr float64) *Schedule {
	return &Schedule{Rule: rule, LR: lr, Best: 2}
}

// EndEpoch updates the rate after an epoch (counted from 1) with the
// validation error it ended on. It reports a change of rate, for the log.
//
// plateau: the paper divides ε by 10 "when the validation error rate stopped
// improving with the current learning rate"; here, when the error has not
// gone below its best for `patience` epochs, at most `max_drops` times.
// steps: the rate is multiplied once each listed epoch has ended.
func (s *Schedule) EndEpoch(epoch int, valErr float64) string {
	r := s.Rule
	switch r.Kind {
	case plan.Plateau:
		if valErr < s.Best {
			s.Best, s.Stale = valErr, 0
			return ""
		}
		s.Stale++
		if s.Stale < r.Patience || s.Drops >= r.MaxDrops {
			return ""
		}
		s.Stale = 0
		return s.drop(fmt.Sprintf("validation error %.4f has not improved on %.4f for %d epoch(s)", valErr, s.Best, r.Patience))
	case plan.StepSchedule:
		for _, at := range r.At {
			if at == epoch {
				return s.drop(fmt.Sprintf("epoch %d is a step of the schedule", epoch))
			}
		}
	}
	return ""
}

func (s *Schedule) drop(why string) string {
	old := s.LR
	s.LR *= s.Rule.Factor
	s.Drops++
	return fmt.Sprintf("learning rate %.4g → %.4g: %s", old, s.LR, why)
}
