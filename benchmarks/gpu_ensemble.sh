#!/usr/bin/env bash
# The ensemble engine on one GPU: the device, the epoch time of K = 1, 10 and 50 CNN-deep members
# (14,000 x 200 training sequences, batch 100), the speed-up over K sequential members and the GPU's
# utilisation while the epochs run (benchmarks/ensemble_training.py does the measuring). About 3 minutes
# on an H100; the benchmark itself is cut at 270 s, and each K's line is printed as soon as it is done.
#
# Made for the device machine: JAX with CUDA, Python 3.12, numpy, h5py, pandas and scipy, but no Keras, no
# TensorFlow, no pyjaspar and no network. The data are generated there (NumPy: random sequences with a
# planted motif). Keras 3.15.1 and the two dependencies that machine lacks (namex, optree) travel as
# wheels in .gpu-wheels/ (git-ignored), named in the device tool's `carry`. Once, here, in the
# repository root:
#     mkdir -p .gpu-wheels && cp /work/shared/wheels-gpu/*.whl .gpu-wheels/
# then, with the device tool:
#     run(command="bash benchmarks/gpu_ensemble.sh", carry=[".gpu-wheels"], timeout_s=420)
# The report is printed and also written to $OUT/gpu_ensemble.txt, which comes back with the reply.
# Elsewhere: GPU_WHEELS=folder-of-wheels bash benchmarks/gpu_ensemble.sh (or with Keras installed); extra
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
