#!/bin/sh
# The numpy backend on 32-bit ARM, for real: a Debian bookworm armhf root (python3 and Debian's
# python3-numpy), the project's wheel unpacked in it, hp-infer and the Predictor run by that
# root's own python3 under qemu-user, prices compared with onnxruntime's on this machine.
#
#   sudo tools/armhf/run.sh [MODEL_FOLDER]       (default: artifacts, after `make demo`)
#
# Needs root and: apt-get install qemu-user-static binfmt-support debootstrap
# The root is kept in .armhf-root (HP_ARMHF_ROOT) and reused; the first run takes minutes.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
models=$(cd "${1:-$repo/artifacts}" && pwd)
root=${HP_ARMHF_ROOT:-$repo/.armhf-root}
python=${PYTHON:-$repo/.venv/bin/python}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

for tool in debootstrap update-binfmts; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool missing: apt-get install qemu-user-static binfmt-support debootstrap" >&2; exit 6; }
done
[ -f "$models/model.npz" ] && [ -f "$models/model.onnx" ] || { echo "run.sh: no model.npz and model.onnx in $models: make demo" >&2; exit 3; }
# qemu-arm for foreign binaries: the binfmt_misc file system, then Debian's registration.
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-arm ] || update-binfmts --enable qemu-arm

if [ ! -x "$root/usr/bin/python3" ]; then
    rm -rf "$root"
    debootstrap --arch=armhf --variant=minbase --include=python3,python3-numpy bookworm "$root" "$mirror"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The wheel is built from a copy of the files git knows, so the build writes nothing into the tree.
mkdir "$work/src"
git -C "$repo" ls-files -z --cached --others --exclude-standard |
    tar -C "$repo" --null --ignore-failed-read -T - -cf - | tar -C "$work/src" -xf -
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work" "$work/src"
rm -rf "$root/opt/hp" && mkdir -p "$root/opt/hp/lib"
"$python" -m zipfile -e "$work"/houseprice-*.whl "$root/opt/hp/lib"
cp "$models/model.npz" "$repo/examples/houses.jsonl" "$root/opt/hp/"
"$python" -c "import sys, numpy as np; from houseprice.data import load_dataset; np.save(sys.argv[1], load_dataset().features.astype(np.float32))" "$root/opt/hp/x.npy"

inside() { chroot "$root" /usr/bin/env PYTHONPATH=/opt/hp/lib python3 "$@"; }
inside -c "import platform, numpy; print('armhf root:', platform.machine(), 'python', platform.python_version(), 'numpy', numpy.__version__)"
inside -c "import importlib.util as u; print('onnxruntime installed there:', u.find_spec('onnxruntime') is not None)"
echo "hp-infer houses.jsonl --model model.npz, inside:"
inside -c "import sys; from houseprice.runtime.cli import console_main; sys.argv[0] = 'hp-infer'; console_main()" \
    /opt/hp/houses.jsonl --model /opt/hp/model.npz
# Every house at once (the blocked path) and one at a time (the one-house path).
inside -c "import json, numpy as np; from houseprice.runtime import Predictor; p = Predictor.load('/opt/hp/model.npz'); x = np.load('/opt/hp/x.npy'); print(json.dumps([p.predict_array(x).tolist(), [float(p.predict_array(x[i:i + 1])[0]) for i in range(len(x))]]))" \
    > "$work/armhf.json"
"$python" - "$models/model.onnx" "$root/opt/hp/x.npy" "$work/armhf.json" <<'PY'
import json, sys
import numpy as np
from houseprice.runtime import Predictor
here = Predictor.load(sys.argv[1]).predict_array(np.load(sys.argv[2]))
worst = 0.0
for name, there in zip(("at once", "one at a time"), json.load(open(sys.argv[3])), strict=True):
    rel = float(np.max(np.abs(np.array(there, np.float32) - here) / np.abs(here)))
    print(f"{len(here)} houses {name}: armhf numpy vs x86_64 onnxruntime: max relative difference {rel:.2e}")
    worst = max(worst, rel)
sys.exit(0 if worst <= 1e-5 else 1)  # float32 rounding, summed in another order
PY
