#!/usr/bin/env bash
# Writes the PyTorch reference files the tests compare against. Needs Debian's
# python3-torch (apt-get install python3-torch). Run from the repository root:
#   bash testdata/torch/generate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=testdata/torch
ref() { # spec variant name batch std
	go run ./cmd/alexnetc check "$1" --json ${2:+--variant "$2"} |
		/usr/bin/python3 scripts/torch_reference.py - "$out/$3.safetensors" --batch "$4" --std "$5" --seed 1
}
ref testdata/alexnet-small.toml ""           alexnet-small            3 0.05
ref testdata/alexnet-small.toml no-dropout   alexnet-small-nodrop     3 0.05
ref testdata/alexnet-small.toml mean-lrn     alexnet-small-meanlrn    3 0.05
ref testdata/alexnet-small.toml strong-lrn   alexnet-small-stronglrn  3 0.05
ref examples/fashion.toml       no-dropout   fashion-nodrop           2 0.05
ref examples/cifar-4layer.toml  ""           cifar4                   2 0.05
