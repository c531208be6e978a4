"""Models and their training with the paper's recipe: the CNNs, one model at a time (Keras ``fit``), or an
ensemble of models of one shape as one JAX program."""

from simplexgrad._lazy import attach_stub

# The re-exported names are declared once, in __init__.pyi (which type checkers read too).
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
