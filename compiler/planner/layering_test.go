package planner_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The layering rules of the module (docs/architecture.md): the runtime
// knows nothing of the compiler, the spec language or what is built on the
// runtime, and the compiler reaches the runtime only through the plan.
// Each rule names the packages it governs (a directory prefix of the
// module) and the dependencies they may not have; allowed lists the
// exceptions. Only non-test dependencies count: a test may import anything.
var layering = []struct {
	from      string
	forbidden []string
	allowed   []string
	why       string
}{
	{"runtime/", []string{"compiler/", "spec/", "examples/", "experiments/", "cmd/"}, nil,
		"the runtime consumes plans; it must not know the compiler, the spec or what is built on it"},
	{"compiler/", []string{"runtime/", "experiments/", "cmd/"}, []string{"runtime/plan"},
		"the compiler produces a runtime/plan.Plan and knows no other runtime package"},
	{"runtime/plan", []string{""}, nil,
		"the plan package is a leaf: it imports nothing of the module"},
}

// pkgInfo is what `go list` says of one package.
type pkgInfo struct {
	imports []string // direct imports
	deps    []string // every transitive dependency
}

// under reports whether a package path relative to the module lies in dir
// ("" is the whole module; "runtime/plan" is that package and those below).
func under(rel, dir string) bool {
	if dir == "" || strings.HasSuffix(dir, "/") {
		return strings.HasPrefix(rel+"/", dir)
	}
	return rel == dir || strings.HasPrefix(rel, dir+"/")
}

// violations checks every package of the module in pkgs against the rules
// and describes each forbidden dependency with the import chain that
// brings it in, grouped by rule under the rule's reason.
func violations(module string, pkgs map[string]pkgInfo) []string {
	var out []string
	for i := range layering {
		if bad := ruleViolations(module, pkgs, i); len(bad) > 0 {
			out = append(out, layering[i].why+":")
			for _, b := range bad {
				out = append(out, "\t"+b)
			}
		}
	}
	return out
}

// ruleViolations lists the forbidden dependencies of one rule.
func ruleViolations(module string, pkgs map[string]pkgInfo, i int) []string {
	rule := layering[i]
	rel := func(p string) (string, bool) {
		if p == module {
			return "", true
		}
		r, ok := strings.CutPrefix(p, module+"/")
		return r, ok
	}
	var out []string
	names := make([]string, 0, len(pkgs))
	for name := range pkgs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		from, ok := rel(name)
		if !ok {
			continue
		}
		if under(from, rule.from) {
			for _, dep := range pkgs[name].deps {
				to, ok := rel(dep)
				if !ok || to == from {
					continue
				}
				bad := slices.ContainsFunc(rule.forbidden, func(d string) bool { return under(to, d) })
				if !bad || slices.ContainsFunc(rule.allowed, func(d string) bool { return under(to, d) }) {
					continue
				}
				out = append(out, fmt.Sprintf("%s → %s (%s)", from, to, strings.Join(chain(pkgs, name, dep, module), " → ")))
			}
		}
	}
	return out
}

// chain returns a shortest chain of imports from one package to another,
// as paths relative to the module where they are in it.
func chain(pkgs map[string]pkgInfo, from, to, module string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 && prev[to] == "" {
		p := queue[0]
		queue = queue[1:]
		for _, q := range pkgs[p].imports {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	var path []string
	for p := to; p != ""; p = prev[p] {
		path = append(path, strings.TrimPrefix(p, module+"/"))
		if p == from {
			break
		}
	}
	slices.Reverse(path)
	return path
}

// moduleRoot finds the directory of go.mod above the test's directory and
// the module's path.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(m), `"`)
				}
			}
			t.Fatalf("%s has no module line", filepath.Join(dir, "go.mod"))
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// TestLayering runs `go list -deps` over the runtime's and the compiler's
// packages and fails on any dependency the layering rules forbid, naming
// each offending pair of packages and the imports that join them.
func TestLayering(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH:", err)
	}
	root, module := moduleRoot(t)
	cmd := exec.Command(goTool, "list", "-e", "-deps",
		"-f", "{{.ImportPath}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", "./runtime/...", "./compiler/...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Skip("cannot run go list:", err)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkgInfo{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("go list printed %q", line)
		}
		pkgs[f[0]] = pkgInfo{strings.Fields(f[1]), strings.Fields(f[2])}
	}
	// The patterns must have matched the packages the rules are about.
	for _, p := range []string{"runtime/plan", "runtime/engine", "compiler/planner", "compiler/lower"} {
		if _, ok := pkgs[module+"/"+p]; !ok {
			t.Fatalf("go list did not list %s; the check would prove nothing", p)
		}
	}
	if bad := violations(module, pkgs); len(bad) > 0 {
		n := 0
		for _, b := range bad {
			if strings.HasPrefix(b, "\t") {
				n++
			}
		}
		t.Errorf("%d dependencies break the layering rules (package → forbidden dependency (the imports that bring it in)):\n%s",
			n, strings.Join(bad, "\n"))
	}
}

// TestLayeringCatches runs the rules on a made-up module with one
// violation of each kind, and on the allowed dependencies.
func TestLayeringCatches(t *testing.T) {
	const m = "example.com/m"
	pkgs := map[string]pkgInfo{
		m + "/runtime/plan":     {nil, nil},
		m + "/runtime/cpu":      {nil, nil},
		m + "/runtime/engine":   {[]string{m + "/runtime/plan", m + "/runtime/helper", "fmt"}, []string{m + "/runtime/plan", m + "/runtime/helper", m + "/spec", "fmt"}},
		m + "/runtime/helper":   {[]string{m + "/spec"}, []string{m + "/spec"}},
		m + "/spec":             {nil, nil},
		m + "/compiler/planner": {[]string{m + "/runtime/plan"}, []string{m + "/runtime/plan"}},
		m + "/compiler/gen":     {[]string{m + "/runtime/cpu", m + "/compiler/planner"}, []string{m + "/runtime/cpu", m + "/compiler/planner", m + "/runtime/plan"}},
		m + "/runtime/planx":    {[]string{m + "/diag"}, []string{m + "/diag"}},
		m + "/diag":             {nil, nil},
	}
	got := violations(m, pkgs)
	want := []string{
		layering[0].why + ":",
		"\truntime/engine → spec (runtime/engine → runtime/helper → spec)",
		"\truntime/helper → spec (runtime/helper → spec)",
		layering[1].why + ":",
		"\tcompiler/gen → runtime/cpu (compiler/gen → runtime/cpu)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The plan package may import nothing of the module.
	pkgs[m+"/runtime/plan"] = pkgInfo{[]string{m + "/diag"}, []string{m + "/diag"}}
	want = append(want, layering[2].why+":", "\truntime/plan → diag (runtime/plan → diag)")
	if got := violations(m, pkgs); !slices.Equal(got, want) {
		t.Errorf("runtime/plan importing diag:\n%s", strings.Join(got, "\n"))
	}
}
