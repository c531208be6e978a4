# Sourced by the GPU scripts (gpu_ensemble.sh, gpu_study.sh): `gpu_env WHEELS_FOLDER REPOSITORY` makes Keras
# importable where it is missing, by installing the wheels of WHEELS_FOLDER (Keras 3.15.1, namex 0.1.0 and
# optree 0.20.0; see gpu_ensemble.sh's header) into a temporary folder on PYTHONPATH, puts the library of
# REPOSITORY on PYTHONPATH and selects Keras' JAX backend. Returns 2 with one line when Keras is missing and
# the folder has no Keras wheel.
gpu_env() {
    local wheels=$1 repository=$2 site
    if ! python3 -c 'import keras' 2>/dev/null; then
        if ! ls "$wheels"/keras-*.whl >/dev/null 2>&1; then
            echo "no Keras here and no Keras wheel in $wheels: see the header of benchmarks/gpu_ensemble.sh" >&2
            return 2
        fi
        site=$(mktemp -d)
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
            "$wheels"/*.whl
        export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    fi
    export PYTHONPATH="$repository/workflow${PYTHONPATH:+:$PYTHONPATH}"
    export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
}
