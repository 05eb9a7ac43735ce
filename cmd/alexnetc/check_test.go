package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runIn runs the CLI in dir and returns its exit status, stdout and stderr.
func runIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// edit applies old → new replacements, each of which must match once.
func edit(t *testing.T, src string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if strings.Count(src, pairs[i]) < 1 {
			t.Fatalf("test case edits %q, which the base spec lacks", pairs[i])
		}
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	return src
}

// TestBadInput covers every class of malformed spec: each gives exactly the
// listed file:line:col messages on stderr and exit status 2.
func TestBadInput(t *testing.T) {
	base, err := os.ReadFile("testdata/tiny.toml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		edits []string // old, new, ...; or the whole file with raw
		raw   *string
		want  []string
	}{
		{name: "toml syntax", edits: []string{"[network]", "[network"},
			want: []string{"spec.toml:1:9: TOML syntax: expected '.' or ']' to end table name, but got '\\n' instead"}},
		{name: "toml duplicate key", edits: []string{`name = "tiny"`, "name = \"tiny\"\nname = \"again\""},
			want: []string{"spec.toml:3:1: TOML syntax: Key 'network.name' has already been defined."}},
		{name: "unknown key", edits: []string{"kernel = 5", "kernel = 5\nfiltres = 3"},
			want: []string{`spec.toml:16:1: unknown key "filtres" in layer "conv1"; did you mean "filters"?`}},
		{name: "unknown table", edits: []string{"[train]", "[training]"},
			want: []string{"spec.toml:54:1: unknown table \"training\"; expected one of network, input, init, layer, train, data, eval, variant"}},
		{name: "key for another op", edits: []string{"kernel = 5", "kernel = 5\nunits = 3"},
			want: []string{`spec.toml:16:1: key "units" does not apply to a conv layer (it is for fc)`}},
		{name: "wrong type string for int", edits: []string{"units = 10", `units = "10"`},
			want: []string{`spec.toml:47:10: units must be a positive integer, not the string "10"`}},
		{name: "wrong type int for enum", edits: []string{`act = "relu"`, "act = 1"},
			want: []string{`spec.toml:17:7: act must be one of "relu", "tanh", "sigmoid", "none" or "leaky_relu", not the integer 1`}},
		{name: "fraction for int", edits: []string{"height = 32", "height = 32.5"},
			want: []string{"spec.toml:8:10: height must be a positive integer, not the fraction 32.5"}},
		{name: "bad enum", edits: []string{`rounding = "floor"`, `rounding = "round"`},
			want: []string{`spec.toml:4:13: rounding must be "floor" or "ceil", not "round"`}},
		{name: "missing required key", edits: []string{"kernel = 5\n", ""},
			want: []string{`spec.toml:11:1: layer "conv1" is missing required key "kernel"`}},
		{name: "missing required table", edits: []string{"[input]\nchannels = 3\nheight = 32\nwidth = 32\n", ""},
			want: []string{"spec.toml:1:1: missing [input] table"}},
		{name: "layer not an array of tables", edits: []string{"[[layer]]\nname = \"conv1\"", "[layer]\nname = \"conv1\""},
			want: []string{"spec.toml:19:3: TOML syntax: Key 'layer' was already created and cannot be used as an array."}},
		{name: "duplicate layer name", edits: []string{`name = "norm1"`, `name = "conv1"`},
			want: []string{`spec.toml:20:9: duplicate layer name "conv1" (first defined at spec.toml:12:9)`}},
		{name: "reserved layer name", edits: []string{`name = "norm1"`, `name = "data"`},
			want: []string{`spec.toml:20:9: layer name "data" is reserved`}},
		{name: "zero size", edits: []string{"filters = 8", "filters = 0"},
			want: []string{"spec.toml:14:11: filters must be a positive integer, not 0"}},
		{name: "negative size", edits: []string{"kernel = 5", "kernel = -5"},
			want: []string{"spec.toml:15:10: kernel must be a positive integer, not -5"}},
		{name: "negative pad", edits: []string{"pad = 2", "pad = -1"},
			want: []string{"spec.toml:16:7: pad must be a non-negative integer, not -1"}},
		{name: "rate out of range", edits: []string{"place = \"gpu(0)\"\n", "place = \"gpu(0)\"\n\n[[layer]]\nname = \"drop\"\nop = \"dropout\"\nrate = 1.5\n"},
			want: []string{"spec.toml:53:8: rate must be a number in [0, 1), not 1.5"}},
		{name: "unknown layer reference", edits: []string{`input = "conv2[all]"`, `input = "conv9[all]"`},
			want: []string{`spec.toml:46:10: layer "fc3" reads unknown layer "conv9"; did you mean "conv1"?`}},
		{name: "cyclic reference", edits: []string{`input = "pool1[own]"`, `input = "fc3"`},
			want: []string{
				"spec.toml:36:10: cyclic input: conv2 → fc3 → conv2",
				`spec.toml:50:1: layer "loss" reads "fc3", which "conv2" already reads; a layer may feed only one other (alexnetc networks are chains)`}},
		{name: "no softmax", edits: []string{`op = "softmax"`, `op = "dropout"` + "\nrate = 0.5"},
			want: []string{`spec.toml:1:1: the network has no softmax layer: its last layer must have op = "softmax"`}},
		{name: "dead layer", edits: []string{"[train]", "[[layer]]\nname = \"orphan\"\nop = \"dropout\"\ninput = \"conv1\"\nrate = 0.5\n\n[train]"},
			want: []string{`spec.toml:57:10: layer "orphan" reads "conv1", which "norm1" already reads; a layer may feed only one other (alexnetc networks are chains)`}},
		{name: "kernel larger than input", edits: []string{"kernel = 3", "kernel = 40"},
			want: []string{"spec.toml:38:10: kernel = 40 is larger than its 16×16 input (with pad 1)"}},
		{name: "not whole under floor", edits: []string{"size = 2\nstride = 2", "size = 3\nstride = 2"},
			want: []string{`spec.toml:30:8: height does not come out whole: (32 + 2·0 − 3) / 2 = 14.5; under rounding = "floor" it must divide evenly: change size, pad or stride, or use rounding = "ceil"`}},
		{name: "ceil accepts it", edits: []string{"size = 2\nstride = 2", "size = 3\nstride = 2", `rounding = "floor"`, `rounding = "ceil"`}},
		{name: "filters not divisible by gpus", edits: []string{"filters = 16", "filters = 15"},
			want: []string{"spec.toml:37:11: filters = 15 cannot be split evenly over 2 GPUs"}},
		{name: "filters not divisible by groups", edits: []string{"pad = 1", "pad = 1\ngroups = 3"},
			want: []string{"spec.toml:40:10: groups = 3 does not divide the 8 filters each GPU holds"}},
		{name: "even lrn size", edits: []string{"size = 5", "size = 4"},
			want: []string{"spec.toml:22:8: size = 4: LRN sums over n channels centred on each channel, so n must be odd"}},
		{name: "gpu out of range", edits: []string{`place = "gpu(0)"`, `place = "gpu(2)"`},
			want: []string{"spec.toml:48:10: gpu(2) does not exist: [network] gpus = 2 numbers them 0 to 1"}},
		{name: "half of a split layer unread", edits: []string{`input = "conv2[all]"`, `input = "conv2"`},
			want: []string{`spec.toml:46:10: no part of "fc3" reads the part of conv2 on GPU 1, so it would be computed for nothing; read conv2[all]`}},
		{name: "bad reference expression", edits: []string{`input = "pool1[own]"`, `input = "pool1[both]"`},
			want: []string{`spec.toml:36:16: expected "own" or "all" after "[", found "both"`}},
		{name: "bad initialiser", edits: []string{`weights = "normal(std=0.01)"`, `weights = "normal(std=0.01"`},
			want: []string{`spec.toml:41:27: unexpected end of expression; expected "," or ")"`}},
		{name: "negative std", edits: []string{`weights = "normal(std=0.01)"`, `weights = "normal(std=-1)"`},
			want: []string{`spec.toml:41:23: argument "std" to normal must be positive, found -1`}},
		{name: "bad schedule", edits: []string{"steps(at=[30, 60], factor=0.1)", "steps(at=[60, 30])"},
			want: []string{`spec.toml:55:27: epochs in "at" must be strictly increasing, found 30 after 60`}},
		{name: "bad patch syntax", edits: []string{`patch = ["drop norm1"]`, `patch = ["drop norm1", "set conv[12.filters = 3"]`},
			want: []string{`spec.toml:59:29: malformed layer pattern "conv[12": missing "]"`}},
		{name: "patch matches nothing", edits: []string{`patch = ["drop norm1"]`, `patch = ["drop norm9"]`},
			want: []string{`spec.toml:59:16: "norm9" matches no layer; did you mean "norm1"?`}},
		{name: "patch field for no matched op", edits: []string{`patch = ["drop norm1"]`, `patch = ["drop norm1", "set conv*.size = 3"]`},
			want: []string{`spec.toml:59:35: no layer matched by "conv*" takes "size" (it is for lrn, maxpool and avgpool layers)`}},
		{name: "patch value out of range", edits: []string{`patch = ["drop norm1"]`, `patch = "set train.lr = 0"`},
			want: []string{"spec.toml:59:25: lr must be a positive number, not 0"}},
		{name: "patch scale not whole", edits: []string{`patch = ["drop norm1"]`, `patch = ["set conv1.filters /= 3"]`},
			want: []string{"spec.toml:59:32: conv1.filters /= 3 gives 2.667, not an integer"}},
		{name: "variant breaks the network", edits: []string{`patch = ["drop norm1"]`, `patch = ["set pool1.size = 3"]`},
			want: []string{`spec.toml:59:28: in variant "no-lrn": height does not come out whole: (32 + 2·0 − 3) / 2 = 14.5; under rounding = "floor" it must divide evenly: change size, pad or stride, or use rounding = "ceil"`}},
		{name: "several errors at once", edits: []string{"filters = 8", "filters = 0", "kernel = 3", "kernel = -3", `units = 10`, `units = "ten"`},
			want: []string{
				"spec.toml:14:11: filters must be a positive integer, not 0",
				"spec.toml:38:10: kernel must be a positive integer, not -3",
				`spec.toml:47:10: units must be a positive integer, not the string "ten"`}},
		{name: "empty file", raw: ptr(""),
			want: []string{"spec.toml:1:1: empty spec: expected [network], [input] and [[layer]] tables"}},
		{name: "blank file", raw: ptr("\n  \n\t\n"),
			want: []string{"spec.toml:1:1: empty spec: expected [network], [input] and [[layer]] tables"}},
		{name: "comments only", raw: ptr("# nothing here\n"),
			want: []string{
				"spec.toml:1:1: missing [network] table",
				"spec.toml:1:1: missing [input] table",
				"spec.toml:1:1: missing [[layer]] tables: a network needs at least one layer"}},
		{name: "binary file", raw: ptr("\x7fELF\x02\x01\x01\x00\x00"),
			want: []string{"spec.toml:1:8: not a text file: byte 0x00 at offset 7 is not UTF-8 text"}},
		{name: "invalid utf-8", raw: ptr("[network]\nname = \"\xff\"\n"),
			want: []string{"spec.toml:2:9: not a text file: byte 0xff at offset 18 is not UTF-8 text"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := string(base)
			if tc.raw != nil {
				src = *tc.raw
			} else {
				src = edit(t, src, tc.edits...)
			}
			if err := os.WriteFile(filepath.Join(dir, "spec.toml"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runIn(t, dir, "check", "spec.toml")
			if tc.want == nil {
				if code != 0 {
					t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
				}
				return
			}
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			got := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, strings.Join(tc.want, "\n"))
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Errorf("stderr shows a panic:\n%s", stderr)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestMissingFile(t *testing.T) {
	code, _, stderr := runIn(t, t.TempDir(), "check", "nope.toml")
	if want := "nope.toml:1:1: cannot read the spec: no such file or directory\n"; code != 2 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 2, %q", code, stderr, want)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{}, {"chek"}, {"check", "a.toml", "b.toml"}, {"check", "--nope", "a.toml"}} {
		code, _, stderr := runIn(t, dir, args...)
		if code != 2 || stderr == "" {
			t.Errorf("alexnetc %q: exit %d, stderr %q; want exit 2 and a message", args, code, stderr)
		}
	}
	_, _, stderr := runIn(t, dir, "chek")
	if !strings.Contains(stderr, `did you mean "check"?`) {
		t.Errorf("no suggestion for a misspelt command: %q", stderr)
	}
}

func TestUnknownVariant(t *testing.T) {
	abs, _ := filepath.Abs("../../examples/alexnet.toml")
	code, _, stderr := runIn(t, t.TempDir(), "check", abs, "--variant", "no-lrm")
	if code != 2 || !strings.Contains(stderr, `no variant "no-lrm"; did you mean "no-lrn"?`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestEmbeddedDefault(t *testing.T) {
	code, stdout, stderr := runIn(t, t.TempDir(), "check")
	if code != 0 || !strings.Contains(stdout, "parameters  60,965,224") || !strings.Contains(stdout, "neurons     659,272") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "reads both GPUs (⇄): conv3, fc6, fc7, fc8") {
		t.Errorf("cross-GPU layers missing from:\n%s", stdout)
	}
}
