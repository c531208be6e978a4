"""simplexgrad: simplex-corrected gradient attributions for models of one-hot sequences.

>>> from simplexgrad import correct, simplex_angle, large_angle_fraction, saliency

The attribution methods are those of :data:`simplexgrad.attribution.METHODS`; importing them loads no
deep-learning backend until a model is given.
"""

from simplexgrad.attribution import METHODS
from simplexgrad.correction import correct, large_angle_fraction, simplex_angle

__version__ = "0.1.0"

globals().update(METHODS)  # every registered attribution method, by its name

__all__ = ["correct", "simplex_angle", "large_angle_fraction", *METHODS, "__version__"]
