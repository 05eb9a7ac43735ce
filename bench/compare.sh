#!/usr/bin/env bash
# Times alexnetc and its peers (PyTorch, ONNX Runtime) on this machine in one
# go, and prints the ratios the performance targets are stated in.
#
#   bench/compare.sh [batch] [threads]        (defaults: 128 2)
#
# Each mode runs alexnetc and then the peers straight after it, so that a
# ratio compares runs a minute apart on the same machine; each figure is the
# median of several steps. Everything, raw output included, is kept in
# ${BENCH_OUT:-bench/out}. Needs Go and jq; the peers' script installs what
# the peers need (Debian's python3-torch, onnxruntime-node from npm).
set -euo pipefail
batch=${1:-128}
threads=${2:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS:-$root/../shared/peers}
out=${BENCH_OUT:-$root/bench/out}
spec=${SPEC:-$root/examples/alexnet.toml}
if [[ ! -f $peers/run.sh ]]; then
	echo "compare.sh: no peers at $peers (set PEERS=)" >&2
	exit 1
fi
mkdir -p "$out"
cd "$root"
go build -o "$out/alexnetc" ./cmd/alexnetc

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; batch $batch, $threads threads"
for mode in infer train; do
	flag=()
	[[ $mode == train ]] && flag=(--train)
	"$out/alexnetc" bench "$spec" --batch "$batch" --threads "$threads" "${flag[@]}" --out "$out/alexnetc-$mode.json" | tee "$out/alexnetc-$mode.txt"
	echo
	bash "$peers/run.sh" "$mode" "$batch" "$threads" | tee "$out/peers-$mode.txt"
	echo
done

ips() { grep -m1 "$1" "$2" | sed -E 's/.* ([0-9.]+) img\/s.*/\1/'; }
ours_infer=$(jq .images_per_second "$out/alexnetc-infer.json")
ours_train=$(jq .images_per_second "$out/alexnetc-train.json")
rss_infer=$(jq .peak_rss_bytes "$out/alexnetc-infer.json")
rss_train=$(jq .peak_rss_bytes "$out/alexnetc-train.json")
ort=$(ips '^onnxruntime' "$out/peers-infer.txt")
pt_infer=$(ips '^pytorch' "$out/peers-infer.txt")
pt_train=$(ips '^pytorch' "$out/peers-train.txt")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }
gb() { awk -v a="$1" 'BEGIN { printf "%.2f GB", a / 1e9 }'; }
verdict() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { print (a / b >= t) ? "met" : "NOT met" }'; }
printf '\n%-34s %12s %12s %10s %s\n' "comparison (images/s)" alexnetc peer ratio "target"
printf '%-34s %12.1f %12.1f %10s %s\n' "inference vs ONNX Runtime" "$ours_infer" "$ort" "$(ratio "$ours_infer" "$ort")" "≥ 1.0× ($(verdict "$ours_infer" "$ort" 1.0))"
printf '%-34s %12.1f %12.1f %10s %s\n' "inference vs PyTorch" "$ours_infer" "$pt_infer" "$(ratio "$ours_infer" "$pt_infer")" ""
printf '%-34s %12.1f %12.1f %10s %s\n' "training vs PyTorch" "$ours_train" "$pt_train" "$(ratio "$ours_train" "$pt_train")" "≥ 1.5× ($(verdict "$ours_train" "$pt_train" 1.5))"
printf '%-34s %12s %12s %10s %s\n' "peak RSS, inference" "$(gb "$rss_infer")" "" "" "≤ 0.7 GB ($(awk -v a="$rss_infer" 'BEGIN { print (a <= 0.7e9) ? "met" : "NOT met" }'))"
printf '%-34s %12s %12s %10s %s\n' "peak RSS, training" "$(gb "$rss_train")" "" "" "≤ 1.6 GB ($(awk -v a="$rss_train" 'BEGIN { print (a <= 1.6e9) ? "met" : "NOT met" }'))"
