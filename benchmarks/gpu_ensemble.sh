#!/usr/bin/env bash
# The ensemble engine on one GPU: the device, the epoch time of K = 1, 10 and 50 CNN-deep members
# (14,000 x 200 training sequences, batch 100), the speed-up over K sequential members and the GPU's
# utilisation while the epochs run (benchmarks/ensemble_training.py does the measuring). About 3 minutes
# on an H100; the benchmark itself is cut at 270 s, and each K's line is printed as soon as it is done.
#
# Made for a GPU machine with JAX (CUDA), Python 3.12, numpy, h5py, pandas and scipy, but maybe no Keras,
# no TensorFlow, no pyjaspar and no network. The data are generated there (NumPy: random sequences with a
# planted motif). Where Keras is missing, the script installs wheels from the folder named by the
# environment variable GPU_WHEELS (default: .gpu-wheels in the repository root, which git ignores) into a
# temporary folder on PYTHONPATH: Keras 3.15.1 and the two of its dependencies that JAX does not bring,
# namex 0.1.0 and optree 0.20.0 (the versions of requirements/constraints.txt). Fetch them once, on a
# machine with network access, for the GPU machine's Python and platform:
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#         --platform manylinux_2_28_x86_64 -d .gpu-wheels keras==3.15.1 namex==0.1.0 optree==0.20.0
# Copy the folder to the GPU machine with the checkout (it is not tracked), and run there:
#     bash benchmarks/gpu_ensemble.sh                          # wheels in .gpu-wheels
#     GPU_WHEELS=path/to/wheels bash benchmarks/gpu_ensemble.sh   # wheels elsewhere
# The report is printed and also written to $OUT/gpu_ensemble.txt ($OUT, else $TMPDIR, else /tmp). Extra
# arguments go to the benchmark, e.g. `--members 1 10 --num-seqs 2000` for a quick try.
set -euo pipefail
cd "$(dirname "$0")/.."

wheels=${GPU_WHEELS:-.gpu-wheels}
if ! python3 -c 'import keras' 2>/dev/null; then
    if ! ls "$wheels"/keras-*.whl >/dev/null 2>&1; then
        echo "no Keras here and no wheels in $wheels: see the comment at the top of $0" >&2
        exit 2
    fi
    site=$(mktemp -d)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$wheels"/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/workflow${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
report=${OUT:-${TMPDIR:-/tmp}}/gpu_ensemble.txt

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    python3 - <<'PY'
import sys

import jax
import simplexgrad.training.ensemble  # noqa: F401  (the engine's imports, without TensorFlow or pyjaspar)

unwanted = [name for name in ("tensorflow", "pyjaspar", "pybedtools", "pyfaidx") if name in sys.modules]
print(f"python {sys.version.split()[0]}, jax {jax.__version__}, devices {jax.devices()}")
print("simplexgrad.training.ensemble imported", f"and pulled in {unwanted}" if unwanted else "without TensorFlow/pyjaspar")
PY
    timeout 270 python3 benchmarks/ensemble_training.py \
        --members 1 10 50 --epochs 3 --num-seqs 14000 --gpu-utilisation "$@"
} 2>&1 | tee "$report"
