package check

import (
	"fmt"
	"strings"

	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/spec"
	"github.com/alexnetc/alexnetc/spec/expr"
)

// Check resolves a spec into a Network. It reports every error it can find;
// the Network is nil when there is any.
func Check(s *spec.Spec) (*Network, diag.List) {
	c := &checker{s: s}
	n := c.network()
	if len(c.diags) > 0 {
		return nil, c.diags.Sort()
	}
	return n, nil
}

// Variants checks the base network and every variant the spec declares, and
// returns the networks in that order (base first).
func Variants(s *spec.Spec) ([]*Network, diag.List) {
	var nets []*Network
	var diags diag.List
	n, errs := Check(s)
	if len(errs) > 0 {
		// Every variant would repeat the base network's errors.
		return nil, errs
	}
	nets = append(nets, n)
	for _, v := range s.Variants {
		vs, errs := s.ApplyVariant(v.Name)
		if len(errs) > 0 {
			diags.Append(errs)
			continue
		}
		n, errs := Check(vs)
		diags.Append(inVariant(v.Name, errs))
		if n != nil {
			nets = append(nets, n)
		}
	}
	return nets, diags.Sort()
}

// inVariant labels the errors of a patched network with its variant, since
// their positions may point at the base spec's lines.
func inVariant(name string, l diag.List) diag.List {
	out := make(diag.List, len(l))
	for i, d := range l {
		d.Msg = fmt.Sprintf("in variant %q: %s", name, d.Msg)
		out[i] = d
	}
	return out
}

type checker struct {
	s     *spec.Spec
	diags diag.List
}

func (c *checker) errorf(pos diag.Pos, format string, args ...any) {
	c.diags.Add(pos, format, args...)
}

func (c *checker) network() *Network {
	s := c.s
	n := &Network{Spec: s, Name: s.Network.Name, Variant: s.Variant, GPUs: s.Network.GPUs, Rounding: s.Network.Rounding}
	n.Input = c.input()
	chain := c.chain()
	if chain == nil {
		return n
	}
	resolved := map[string]*Layer{spec.InputName: n.Input}
	for _, sl := range chain {
		in := resolved[sl.Input.Layer]
		l := c.layer(n, sl, in)
		if l == nil {
			// Later layers depend on this one's shape; their errors would
			// only repeat this one.
			break
		}
		resolved[sl.Name] = l
		n.Layers = append(n.Layers, l)
	}
	c.settings()
	n.total()
	return n
}

// input is the image as a layer: every GPU holds a whole copy.
func (c *checker) input() *Layer {
	in := c.s.Input
	shape := Shape{in.Channels, in.Height, in.Width}
	l := &Layer{Name: spec.InputName, Op: "input", Out: shape, Replicated: true}
	for g := 0; g < c.s.Network.GPUs; g++ {
		l.Parts = append(l.Parts, &Part{GPU: g, C0: 0, C1: shape.C})
	}
	return l
}

// chain orders the layers from the input to the loss, reporting unknown
// references, cycles, branches, layers that do not reach the loss and a
// missing or repeated softmax. It returns nil when the layers do not form
// one chain.
func (c *checker) chain() []*spec.Layer {
	s := c.s
	byName := map[string]*spec.Layer{}
	var names []string
	for _, l := range s.Layers {
		byName[l.Name] = l
		names = append(names, l.Name)
	}
	ok := true
	readers := map[string]*spec.Layer{}
	for _, l := range s.Layers {
		ref := l.Input.Layer
		if ref != spec.InputName && byName[ref] == nil {
			c.errorf(l.Of("input"), "layer %q reads unknown layer %q%s", l.Name, ref, suggestName(ref, append(names, spec.InputName)))
			ok = false
			continue
		}
		if ref == l.Name {
			c.errorf(l.Of("input"), "layer %q reads itself", l.Name)
			ok = false
			continue
		}
		if first, dup := readers[ref]; dup {
			c.errorf(l.Of("input"), "layer %q reads %q, which %q already reads; a layer may feed only one other (alexnetc networks are chains)", l.Name, ref, first.Name)
			ok = false
			continue
		}
		readers[ref] = l
		if src := byName[ref]; src != nil && src.Op == spec.Softmax {
			c.errorf(l.Of("input"), "layer %q reads the softmax %q, but the softmax is the network's output", l.Name, ref)
			ok = false
		}
	}
	// Cycles: follow each layer's inputs; a walk that comes back to a layer
	// it passed is a cycle, reported once at its first layer in the file.
	reported := map[string]bool{}
	for _, l := range s.Layers {
		var path []string
		seen := map[string]int{}
		for cur := l; cur != nil; cur = byName[cur.Input.Layer] {
			if i, again := seen[cur.Name]; again {
				cycle := path[i:]
				if !reported[minName(cycle)] {
					reported[minName(cycle)] = true
					first := byName[firstInFile(s, cycle)]
					c.errorf(first.Of("input"), "cyclic input: %s → %s", rotate(cycle, first.Name), first.Name)
				}
				ok = false
				break
			}
			seen[cur.Name] = len(path)
			path = append(path, cur.Name)
		}
	}
	var losses []*spec.Layer
	for _, l := range s.Layers {
		if l.Op == spec.Softmax {
			losses = append(losses, l)
		}
	}
	if len(losses) == 0 {
		c.errorf(s.Network.At, "the network has no softmax layer: its last layer must have op = \"softmax\"")
		return nil
	}
	for _, extra := range losses[1:] {
		c.errorf(extra.Of("op"), "second softmax layer %q: a network has one output (the first is %q)", extra.Name, losses[0].Name)
		ok = false
	}
	if !ok {
		return nil
	}
	var chain []*spec.Layer
	onChain := map[string]bool{}
	for cur := losses[0]; cur != nil; cur = byName[cur.Input.Layer] {
		chain = append([]*spec.Layer{cur}, chain...)
		onChain[cur.Name] = true
	}
	for _, l := range s.Layers {
		if !onChain[l.Name] {
			c.errorf(l.Of("name"), "layer %q does not lead to the softmax %q: no layer on the way reads it", l.Name, losses[0].Name)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return chain
}

func minName(names []string) string {
	m := names[0]
	for _, n := range names {
		m = min(m, n)
	}
	return m
}

func firstInFile(s *spec.Spec, names []string) string {
	in := map[string]bool{}
	for _, n := range names {
		in[n] = true
	}
	for _, l := range s.Layers {
		if in[l.Name] {
			return l.Name
		}
	}
	return names[0]
}

// rotate prints a cycle (written as a walk along inputs) starting at first,
// in the direction data flows.
func rotate(cycle []string, first string) string {
	// cycle[i] reads cycle[i+1]; data flows the other way.
	flow := make([]string, len(cycle))
	for i := range cycle {
		flow[i] = cycle[len(cycle)-1-i]
	}
	for i, n := range flow {
		if n == first {
			flow = append(flow[i:], flow[:i]...)
			break
		}
	}
	return strings.Join(flow, " → ")
}

func suggestName(s string, names []string) string { return diag.Suggest(s, names) }

var _ = expr.All
