#!/usr/bin/env bash
# Fetches the CUDA 11.8 toolkit that Debian 12 ships in its non-free component
# (nvcc, ptxas, the CUDA headers and the driver's stub libcuda.so) and unpacks
# it into a folder, .cuda/ by default, installing nothing system-wide and
# leaving the system's apt configuration alone: apt runs on private lists,
# cache and sources under the folder. No GPU is needed: the stub library is
# enough to link runtime/cuda, and nvcc and ptxas compile without a device.
#
#   scripts/cuda-toolkit.sh [DIR]
#
# It does nothing when DIR already holds the toolkit. Needs apt-get, dpkg-deb
# and Debian's archive keyring, and network access to deb.debian.org.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/.cuda}
version=11.8.89~11.8.0-5~deb12u1
stamp=$dest/.complete-$version

if [[ -f $stamp ]]; then
	echo "cuda-toolkit: CUDA $version already in $dest"
	exit 0
fi
for tool in apt-get dpkg-deb tar; do
	command -v "$tool" >/dev/null || { echo "cuda-toolkit: needs $tool" >&2; exit 1; }
done
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f $keyring ]] || { echo "cuda-toolkit: needs Debian's archive keyring ($keyring)" >&2; exit 1; }

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
apt=$dest/.apt
rm -rf "$apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$apt/debs"
echo "deb [signed-by=$keyring] http://deb.debian.org/debian bookworm main contrib non-free" >"$apt/sources.list"
: >"$apt/status"
opts=(
	-o "Dir::Etc::sourcelist=$apt/sources.list"
	-o "Dir::Etc::sourceparts=$apt/parts"
	-o "Dir::State::Lists=$apt/lists"
	-o "Dir::State::status=$apt/status"
	-o "Dir::Cache=$apt/cache"
	-o "Debug::NoLocking=true"
	-o "APT::Sandbox::User=$(id -un)"
)
echo "cuda-toolkit: fetching Debian's package lists (bookworm, non-free) into $apt"
apt-get "${opts[@]}" -qq update
echo "cuda-toolkit: downloading nvidia-cuda-toolkit and nvidia-cuda-dev $version (about 860 MB)"
(cd "$apt/debs" && apt-get "${opts[@]}" -qq download "nvidia-cuda-toolkit=$version" "nvidia-cuda-dev=$version")

echo "cuda-toolkit: unpacking into $dest"
dpkg-deb -x "$apt/debs"/nvidia-cuda-toolkit_*.deb "$dest"
# Of nvidia-cuda-dev only the headers and the stub libraries: the rest is
# static libraries (3 GB) that nothing here links.
dpkg-deb --fsys-tarfile "$apt/debs"/nvidia-cuda-dev_*.deb |
	tar -x -C "$dest" --wildcards './usr/include/*' './usr/lib/x86_64-linux-gnu/stubs/*'

# Debian's nvcc reads /etc/nvcc.profile, which names /usr paths; this one
# names the unpacked tree, relative to nvcc itself.
bin=$dest/usr/lib/nvidia-cuda-toolkit/bin
rm -f "$bin/nvcc.profile"
cat >"$bin/nvcc.profile" <<'EOF'
NVVMIR_LIBRARY_DIR = $(_HERE_)/../libdevice
PATH		+= $(_HERE_):$(_HERE_)/../../../bin:
INCLUDES	+= "-I$(_HERE_)/../../../include" $(_SPACE_)
LIBRARIES	=+ $(_SPACE_) "-L$(_HERE_)/../../x86_64-linux-gnu/stubs"
EOF

"$bin/nvcc" --version | tail -n 2
"$dest/usr/bin/ptxas" --version | tail -n 1
rm -rf "$apt"
touch "$stamp"
echo "cuda-toolkit: done: nvcc $bin/nvcc, ptxas $dest/usr/bin/ptxas, headers $dest/usr/include, stub libcuda.so $dest/usr/lib/x86_64-linux-gnu/stubs"
