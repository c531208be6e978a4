"""simplexgrad: simplex-corrected gradient attributions for models of one-hot sequences.

>>> from simplexgrad import correct, simplex_angle, large_angle_fraction, angle_statistics, saliency

The core install (NumPy and h5py) has the correction, the angle diagnostics and the map files; the
attribution methods are those of :data:`simplexgrad.attribution.METHODS`, and importing them loads no
deep-learning backend until a model is given (a Keras model needs the ``keras`` extra, a
``torch.nn.Module`` the ``torch`` extra).
"""

from importlib import metadata as _metadata

from simplexgrad.attribution.methods import expected_gradients, integrated_gradients, saliency, smoothgrad
from simplexgrad.correction import angle_statistics, correct, large_angle_fraction, simplex_angle

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
