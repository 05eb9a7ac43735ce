package cudagen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Toolkit is the part of a CUDA toolkit that turns generated source into
// PTX (nvcc) and PTX into machine code (ptxas). A user's machine needs
// neither: the PTX ships with the program and the driver compiles it.
type Toolkit struct {
	NVCC, PTXAS string
	Host        string // the host C++ compiler nvcc preprocesses with; "" for nvcc's own choice
}

// FindToolkit finds nvcc and ptxas under root: either Debian's packages
// unpacked there (usr/lib/nvidia-cuda-toolkit/bin/nvcc, usr/bin/ptxas, as
// scripts/cuda-toolkit.sh leaves them in .cuda/) or an NVIDIA install
// (bin/nvcc, bin/ptxas). An empty root searches PATH.
func FindToolkit(root string) (*Toolkit, error) {
	var tk Toolkit
	if root == "" {
		nvcc, err := exec.LookPath("nvcc")
		if err != nil {
			return nil, err
		}
		ptxas, err := exec.LookPath("ptxas")
		if err != nil {
			return nil, err
		}
		tk = Toolkit{NVCC: nvcc, PTXAS: ptxas}
	} else {
		for _, layout := range [][2]string{
			{"usr/lib/nvidia-cuda-toolkit/bin/nvcc", "usr/bin/ptxas"},
			{"bin/nvcc", "bin/ptxas"},
		} {
			nvcc, ptxas := filepath.Join(root, layout[0]), filepath.Join(root, layout[1])
			if isFile(nvcc) && isFile(ptxas) {
				tk = Toolkit{NVCC: nvcc, PTXAS: ptxas}
				break
			}
		}
		if tk.NVCC == "" {
			return nil, fmt.Errorf("no nvcc and ptxas under %s (run scripts/cuda-toolkit.sh)", root)
		}
	}
	// Debian's nvcc wrapper wants a g++ of version 11 or older; the host
	// compiler only preprocesses when nvcc writes PTX, so the system's g++
	// does, with the version check turned off (Toolkit.PTX).
	if host, err := exec.LookPath("g++"); err == nil {
		tk.Host = host
	}
	return &tk, nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// PTX compiles CUDA source for a virtual architecture such as compute_80.
// The PTX of compute_80 runs on every GPU from the A100 on: the driver
// compiles it for the GPU it finds.
func (tk *Toolkit) PTX(source, arch string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "alexnetc-nvcc")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src, out := filepath.Join(dir, "kernels.cu"), filepath.Join(dir, "kernels.ptx")
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		return nil, err
	}
	args := []string{"-ptx", "-arch=" + arch, "-o", out, src}
	if tk.Host != "" {
		args = append([]string{"-ccbin", tk.Host, "-allow-unsupported-compiler"}, args...)
	}
	cmd := exec.Command(tk.NVCC, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("nvcc %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		return nil, fmt.Errorf("nvcc warned:\n%s", s)
	}
	return os.ReadFile(out)
}

// Usage is what ptxas reports for one function.
type Usage struct {
	Registers  int
	Shared     int // static shared memory, bytes
	Stack      int // stack frame, bytes
	SpillStore int // bytes
	SpillLoad  int // bytes
}

// Assemble compiles PTX for a real architecture such as sm_90 with ptxas
// and returns each function's resource usage. Any warning is an error.
func (tk *Toolkit) Assemble(ptx []byte, arch string) (map[string]Usage, error) {
	dir, err := os.MkdirTemp("", "alexnetc-ptxas")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "kernels.ptx")
	if err := os.WriteFile(in, ptx, 0o644); err != nil {
		return nil, err
	}
	args := []string{"-arch=" + arch, "-v", "-o", filepath.Join(dir, "kernels.cubin"), in}
	out, err := exec.Command(tk.PTXAS, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ptxas %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return parseUsage(out)
}

var (
	entryRE = regexp.MustCompile(`^ptxas info\s*: Compiling entry function '([^']+)'`)
	stackRE = regexp.MustCompile(`^\s*(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
	usedRE  = regexp.MustCompile(`^ptxas info\s*: Used (\d+) registers(?:, (\d+) bytes smem)?`)
)

// parseUsage reads ptxas -v output.
func parseUsage(out []byte) (map[string]Usage, error) {
	usage := map[string]Usage{}
	var cur string
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.Contains(line, "warning") || strings.Contains(line, "error"):
			return nil, errors.New("ptxas: " + strings.TrimSpace(line))
		case entryRE.MatchString(line):
			cur = entryRE.FindStringSubmatch(line)[1]
			usage[cur] = Usage{}
		case cur != "" && stackRE.MatchString(line):
			m := stackRE.FindStringSubmatch(line)
			u := usage[cur]
			u.Stack, u.SpillStore, u.SpillLoad = atoi(m[1]), atoi(m[2]), atoi(m[3])
			usage[cur] = u
		case cur != "" && usedRE.MatchString(line):
			m := usedRE.FindStringSubmatch(line)
			u := usage[cur]
			u.Registers, u.Shared = atoi(m[1]), atoi(m[2])
			usage[cur] = u
		}
	}
	if len(usage) == 0 {
		return nil, fmt.Errorf("ptxas reported no functions:\n%s", out)
	}
	return usage, nil
}

// PTXArch is the virtual architecture the shipped PTX is compiled for: the
// A100's, which the driver also compiles for the H100 and H200 and any
// later GPU.
const PTXArch = "compute_80"
