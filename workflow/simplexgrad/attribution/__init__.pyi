"""What ``simplexgrad.attribution`` re-exports: the gradient methods, their registry and options, the
reference shuffles they draw, and ``correct_file`` for map files of any tool."""

from .maps import correct_file as correct_file
from .methods import METHODS as METHODS
from .methods import expected_gradients as expected_gradients
from .methods import integrated_gradients as integrated_gradients
from .methods import method_options as method_options
from .methods import saliency as saliency
from .methods import shuffled_references as shuffled_references
from .methods import smoothgrad as smoothgrad
