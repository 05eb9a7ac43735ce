package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/<case>/ from what the commands print now")

// TestGolden walks the cases in the repository's testdata/: every folder
// with a spec.toml. For a spec that checks, `alexnetc check` must print the
// case's check.txt and `alexnetc plan` its plan.txt; for one that does not,
// `alexnetc check` must exit with status 2 and print the case's stderr.txt.
// `go test ./cmd/alexnetc -run TestGolden -update` rewrites them.
func TestGolden(t *testing.T) {
	root := filepath.Join("..", "..", "testdata")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		spec := filepath.Join(dir, "spec.toml")
		if _, err := os.Stat(spec); !e.IsDir() || err != nil {
			continue
		}
		cases++
		t.Run(e.Name(), func(t *testing.T) {
			// The spec is named as a user in the case's folder would name
			// it, so that the golden files hold no path of this machine.
			t.Chdir(dir)
			var out, errOut bytes.Buffer
			code := run([]string{"check", "spec.toml"}, &out, &errOut)
			if code != 0 {
				golden(t, "stderr.txt", fmt.Sprintf("exit status %d\n%s", code, errOut.String()))
				for _, f := range []string{"check.txt", "plan.txt"} {
					if _, err := os.Stat(f); err == nil {
						t.Errorf("%s: the spec fails to check, but the case has %s", e.Name(), f)
					}
				}
				return
			}
			golden(t, "check.txt", out.String())
			out.Reset()
			errOut.Reset()
			if code := run([]string{"plan", "spec.toml"}, &out, &errOut); code != 0 {
				t.Fatalf("alexnetc plan: exit status %d: %s", code, errOut.String())
			}
			golden(t, "plan.txt", out.String())
			if _, err := os.Stat("stderr.txt"); err == nil {
				t.Errorf("the spec checks, but the case has stderr.txt")
			}
		})
	}
	if cases < 5 {
		t.Fatalf("only %d golden cases in %s", cases, root)
	}
}

// golden compares what a command printed with a golden file, or rewrites
// the file under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(name, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/alexnetc -run TestGolden -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from what the command prints now:\n%s\n(go test ./cmd/alexnetc -run TestGolden -update rewrites it after review)", name, diffLines(string(want), got))
	}
}

// diffLines shows the first lines where two texts differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
