package planner

import "github.com/alexnetc/alexnetc/runtime/plan"

// Schedule builds the launch plan of one program from the plan's memory
// plan as it stands, for tests that break the memory plan and need
// launches that follow it.
func Schedule(p *plan.Plan, prog plan.Program) ([]plan.Launch, error) { return schedule(p, prog) }
