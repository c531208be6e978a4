#!/usr/bin/env bash
# One study of the paper's synthetic part on one GPU (benchmarks/gpu_study.py: the workflow's group jobs of
# config/paper-gpu.yaml without Snakemake), on a machine with JAX (CUDA), Python 3.12, numpy, h5py, pandas
# and scipy but maybe no Keras, no TensorFlow and no network.
#
#     bash benchmarks/gpu_study.sh WHEELS_FOLDER --study main --data data.h5 --results results
#
# The first argument is a folder of wheels installed, where Keras is missing, into a temporary folder on
# PYTHONPATH: Keras and the two of its dependencies that JAX does not bring, namex and optree (fetch them
# as the header of benchmarks/gpu_ensemble.sh says). The other arguments go to gpu_study.py; the dataset
# is made where pyjaspar is installed (`simplexgrad synthetic --out data.h5`) and carried along.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 WHEELS_FOLDER --study main|init|penalty --data DATA --results RESULTS [options]" >&2
    exit 2
fi
wheels=$1
shift
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/benchmarks/gpu_env.sh"
gpu_env "$wheels" "$here" || exit 2
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
python3 -c 'import jax; print(f"jax {jax.__version__}, devices {jax.devices()}")'
exec python3 "$here/benchmarks/gpu_study.py" "$@"
