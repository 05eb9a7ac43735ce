package check

import (
	"fmt"

	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

// specKeys reads a spec key of a layer, by the name the op table gives it.
var specKeys = map[string]func(l *spec.Layer) any{
	"filters":    func(l *spec.Layer) any { return l.Filters },
	"units":      func(l *spec.Layer) any { return l.Units },
	"kernel":     func(l *spec.Layer) any { return l.Kernel },
	"stride":     func(l *spec.Layer) any { return l.Stride },
	"pad":        func(l *spec.Layer) any { return l.Pad },
	"groups":     func(l *spec.Layer) any { return l.Groups },
	"act":        func(l *spec.Layer) any { return string(l.Act) },
	"size":       func(l *spec.Layer) any { return l.Size },
	"k":          func(l *spec.Layer) any { return l.K },
	"alpha":      func(l *spec.Layer) any { return l.Alpha },
	"beta":       func(l *spec.Layer) any { return l.Beta },
	"alpha_mode": func(l *spec.Layer) any { return string(l.AlphaMode) },
	"rate":       func(l *spec.Layer) any { return l.Rate },
}

// Def is the layer's entry in the op table.
func (l *Layer) Def() *plan.Op { return plan.OpNamed(string(l.Op)) }

// Keys returns the values of the spec keys the layer's op carries into its
// steps' attributes.
func (l *Layer) Keys() (plan.Values, error) {
	op := l.Def()
	if op == nil {
		return nil, fmt.Errorf("layer %s: op %q is not in the op table", l.Name, l.Op)
	}
	var vs plan.Values
	for _, k := range op.Keys {
		get, ok := specKeys[k.Name]
		if !ok {
			return nil, fmt.Errorf("layer %s: the spec has no key %q", l.Name, k.Name)
		}
		v, err := k.KeyValue(get(l.Spec))
		if err != nil {
			return nil, fmt.Errorf("layer %s: %v", l.Name, err)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// Geometry is what the op table's rules see of one of the layer's parts,
// for n images.
func (l *Layer) Geometry(p *Part, n int) (plan.Geometry, error) {
	keys, err := l.Keys()
	if err != nil {
		return plan.Geometry{}, err
	}
	g := plan.Geometry{N: n, Keys: keys,
		Out:  plan.Shape{C: p.Channels(), H: l.Out.H, W: l.Out.W},
		PadT: l.PadTop, PadL: l.PadLeft, PadB: l.PadBottom, PadR: l.PadRight}
	if l.In != nil {
		g.In = plan.Shape{C: p.InC, H: l.In.Out.H, W: l.In.Out.W}
	}
	if op := l.Def(); op.Window != "" {
		side := specKeys[op.Window](l.Spec).(int)
		g.KH, g.KW, g.Stride = side, side, l.Spec.Stride
	}
	return g, nil
}
