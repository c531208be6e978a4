"""Attribution maps of models of one-hot sequences: the gradient methods and their registry
(:data:`METHODS`), the points where their gradients are averaged, and map files of any tool."""

from simplexgrad._lazy import attach_stub

# The re-exported names are declared once, in __init__.pyi (which type checkers read too).
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
