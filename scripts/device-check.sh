#!/usr/bin/env bash
# The CUDA backend's device check, prepared here without a GPU: builds into
# dist/cuda-check/ everything a GPU machine needs that has the NVIDIA driver,
# PyTorch and no Go:
#
#   cuda.test    runtime/cuda's tests built with -tags cuda: TestDevice runs
#                cuda.CheckCases (the paper's two-GPU AlexNet at batch 8, the
#                one-GPU net, the small nets) on the GPU and on the CPU engine
#                from the same weights, images, labels and dropout masks, and
#                compares an inference pass, training steps and inference
#                again, to the tolerances in runtime/cuda/device_test.go;
#   cudabench    training and inference images/s of cuda.BenchCases (batch 128);
#   ptx/         the kernels of every case, CUDA C and PTX for compute_80,
#                compiled here by nvcc 11.8 (scripts/cuda-toolkit.sh);
#   examples/, testdata/alexnet-small.toml   the specs;
#   alexnet_torch.py, torch_cuda_bench.py    PyTorch with cuDNN on the same GPU;
#   run.sh       the one command to run there.
#
# and prints how to run it. Usage: scripts/device-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
cuda=$PWD/.cuda
out=dist/cuda-check
peers=${PEERS:-../shared/peers}

scripts/cuda-toolkit.sh "$cuda"
export CGO_ENABLED=1 CGO_CFLAGS="-I$cuda/usr/include" CGO_LDFLAGS="-L$cuda/usr/lib/x86_64-linux-gnu/stubs"

rm -rf "$out"
mkdir -p "$out/ptx" "$out/examples" "$out/testdata"
echo "device-check: building the test and bench binaries (-tags cuda)"
$GO test -c -tags cuda -o "$out/cuda.test" ./runtime/cuda/
$GO build -tags cuda -o "$out/cudabench" ./experiments/cudacheck/cmd/cudabench
echo "device-check: compiling the cases' kernels to PTX"
$GO run ./experiments/cudacheck/cmd/cudaptx -toolkit "$cuda" -root . -o "$out/ptx"
cp examples/*.toml "$out/examples/"
cp testdata/alexnet-small.toml "$out/testdata/"
cp "$peers/alexnet_torch.py" scripts/torch_cuda_bench.py "$out/"

cat >"$out/run.sh" <<'EOF'
#!/usr/bin/env bash
# The device check, on a machine with an NVIDIA GPU and driver (CUDA 12 or
# 13), PyTorch, and no Go. Logs go to $OUT (or this folder).
set -uo pipefail
cd "$(dirname "$0")"
log=${OUT:-.}
export PYTHONUNBUFFERED=1
nvidia-smi -L
# The driver entry points runtime/cuda calls, looked up in the driver's
# libcuda (the binaries bind lazily: the other symbols that
# gorgonia.org/cu references are resolved only if called).
python3 - <<'PY'
import ctypes
lib = ctypes.CDLL("libcuda.so.1")
used = """cuInit cuDriverGetVersion cuDeviceGetCount cuDeviceGet cuDeviceGetName
cuDevicePrimaryCtxRetain cuDevicePrimaryCtxRelease_v2 cuCtxSetCurrent
cuDeviceCanAccessPeer cuCtxEnablePeerAccess cuModuleLoadDataEx cuModuleGetFunction
cuModuleUnload cuMemAlloc_v2 cuMemFree_v2 cuMemsetD8_v2 cuMemcpyHtoD_v2 cuMemcpyDtoH_v2
cuMemcpyAsync cuMemcpy2DAsync_v2 cuStreamCreate cuStreamDestroy_v2 cuStreamSynchronize
cuStreamWaitEvent cuEventCreate cuEventRecord cuEventDestroy_v2 cuLaunchKernel""".split()
missing = [s for s in used if not hasattr(lib, s)]
v = ctypes.c_int()
lib.cuDriverGetVersion(ctypes.byref(v))
print("driver CUDA %d.%d; libcuda entry points used: %d, missing: %s" % (v.value // 1000, v.value % 1000 // 10, len(used), missing or "none"))
PY
status=0
echo "== alexnetc GPU vs CPU (go test -tags cuda: TestDevice)"
./cuda.test -test.run '^TestDevice$' -test.v -test.timeout 9m -ptx ptx -root . 2>&1 | tee "$log/device-test.log"
[[ ${PIPESTATUS[0]} == 0 ]] || status=1
echo "== alexnetc training and inference speed"
./cudabench -ptx ptx -root . 2>&1 | tee "$log/bench.log"
[[ ${PIPESTATUS[0]} == 0 ]] || status=1
echo "== PyTorch with cuDNN, the same AlexNet, same GPU"
python3 torch_cuda_bench.py --batch 128 2>&1 | tee -a "$log/bench.log"
[[ ${PIPESTATUS[0]} == 0 ]] || status=1
echo "device check: $([[ $status == 0 ]] && echo PASS || echo FAIL)"
exit $status
EOF
chmod +x "$out/run.sh"

size=$(du -sh "$out" | cut -f1)
cat <<EOF

device-check: ready in $out ($size). On a GPU machine, from the repository root:

    bash $out/run.sh

With the device tool: run(command="bash $out/run.sh", carry=["$out"], timeout_s=600);
the logs come back from \$OUT (device-test.log, bench.log).
EOF
