"""What ``simplexgrad.training`` re-exports: building a model, training one (in memory or to a run folder)
or an ensemble with the paper's recipe, evaluating it, and importing the authors' Keras 2 weights."""

from .ensemble import train_ensemble as train_ensemble
from .models import build_model as build_model
from .models import import_weights as import_weights
from .recipe import TrainingConfig as TrainingConfig
from .recipe import evaluate as evaluate
from .single import train as train
from .single import train_to_directory as train_to_directory
