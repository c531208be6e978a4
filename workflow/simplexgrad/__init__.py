"""simplexgrad: simplex-corrected gradient attributions for models of one-hot sequences.

>>> from simplexgrad import correct, simplex_angle, large_angle_fraction, angle_statistics, saliency

The core install (NumPy and h5py) has the correction, the angle diagnostics and the map files; the
attribution methods are those of :data:`simplexgrad.attribution.METHODS`, and importing them loads no
deep-learning backend until a model is given (a Keras model needs the ``keras`` extra, a
``torch.nn.Module`` the ``torch`` extra).
"""

import os as _os
import sys as _sys

_orig_argv = getattr(_sys, "orig_argv", [])
if _os.path.basename(_sys.argv[0] if _sys.argv else "") == "simplexgrad" or any(
    flag == "-m" and target == "simplexgrad" for flag, target in zip(_orig_argv, _orig_argv[1:])
):  # the command line: a Ctrl-C during the imports below stops it without a traceback
    from simplexgrad._process import defer_early_stops as _defer_early_stops

    _defer_early_stops()

from importlib import metadata as _metadata  # noqa: E402

from simplexgrad.attribution.methods import expected_gradients, integrated_gradients, saliency, smoothgrad  # noqa: E402
from simplexgrad.correction import angle_statistics, correct, large_angle_fraction, simplex_angle  # noqa: E402

try:
    __version__ = _metadata.version("simplexgrad")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.1.0"  # as pyproject.toml's [project] version

__all__ = [
    "correct",
    "simplex_angle",
    "large_angle_fraction",
    "angle_statistics",
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "expected_gradients",
    "__version__",
]
