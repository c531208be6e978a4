"""simplexgrad: simplex-corrected gradient attributions for models of one-hot sequences.

>>> from simplexgrad import correct, simplex_angle, large_angle_fraction, saliency
"""

from simplexgrad.correction import correct, large_angle_fraction, simplex_angle

__version__ = "0.1.0"

__all__ = [
    "correct",
    "simplex_angle",
    "large_angle_fraction",
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "expected_gradients",
    "__version__",
]

_ATTRIBUTION_NAMES = {"saliency", "integrated_gradients", "smoothgrad", "expected_gradients"}


def __getattr__(name: str):
    # Attribution methods import Keras (and its backend); load them only when asked for, so that the
    # NumPy-only parts of the library import in milliseconds.
    if name in _ATTRIBUTION_NAMES:
        from simplexgrad import attribution

        return getattr(attribution, name)
    raise AttributeError(f"module 'simplexgrad' has no attribute {name!r}")
