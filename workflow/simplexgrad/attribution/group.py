"""Attribution of a group of same-shape Keras models in one job: one vmapped JAX gradient for all members.

A group (:class:`MemberGroup`) is what the ensemble engine trains as one program: models of one
architecture and shape that differ in their weights (seed, σ, λ). Its gradient function maps a
``(B, L, A)`` batch to ``(B, K, L, A)`` gradients of its ``K`` members: their weights are stacked on a
first axis and the template model is called through ``stateless_call`` inside ``jax.vmap``, as
:mod:`simplexgrad.training._ensemble_program` trains them. The methods of
:mod:`simplexgrad.attribution.methods` take a group as they take a model, so the points (references,
noise, interpolation) are made once for all members, from the same seeds as for one model, and each
member's maps equal those of :func:`~simplexgrad.attribution.commands.attribute_methods_file` on that
member up to float32 rounding of the gradients (about 1e-6 relative).

``simplexgrad attribute-group`` (:func:`simplexgrad.studies.group_attribution.attribute_group`) writes
a group's files, per member, with these. Needs ``KERAS_BACKEND=jax``.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Sequence

import numpy as np

from simplexgrad._arrays import GradientFunction, OutputKind, Target
from simplexgrad._optional import needs

with needs("jax", "simplexgrad.attribution.group"):
    import keras

    from simplexgrad.attribution.methods import METHODS
    from simplexgrad.backend import _unit_selector, scoring_model

__all__ = ["MemberGroup", "group_maps", "group_members", "member_path", "TEMPLATE_FIELDS"]

TEMPLATE_FIELDS = ("seed", "index", "init_stddev", "angle_penalty")


class MemberGroup:
    """``K`` built Keras models of one structure, explained together (a ``model`` for the methods).

    Parameters
    ----------
    models : sequence of keras.Model
        The members: the same layers and weight shapes, in the same order.
    """

    def __init__(self, models: Sequence[keras.Model]):
        if not models:
            raise ValueError("a group needs at least one model")
        shapes = [tuple(tuple(weight.shape) for weight in model.weights) for model in models]
        different = [k for k, shape in enumerate(shapes) if shape != shapes[0]]
        if different:
            raise ValueError(f"group members {different} have other weight shapes than member 0")
        self.models = list(models)
        self.input_shape = models[0].input_shape
        self._functions: dict[tuple, GradientFunction] = {}

    def __len__(self) -> int:
        return len(self.models)

    def attribution_gradients(
        self, class_index: int = 0, output: OutputKind = "probability", target: Target | None = None
    ) -> GradientFunction:
        """``f(batch (B, L, A)) -> (B, K, L, A)``: each member's input gradient of output ``class_index``
        (inference mode), as :func:`simplexgrad.backend.input_gradient_function` gives it for one model.
        Compiled once per batch shape (``f.fixed_shape`` is True: the last batch is padded)."""
        if keras.backend.backend() != "jax":
            raise ValueError(f"a group's gradients need KERAS_BACKEND=jax; it is {keras.backend.backend()!r}")
        key = (class_index, output, target)
        if key not in self._functions:
            self._functions[key] = self._compiled(class_index, output, target)
        return self._functions[key]

    def _compiled(self, class_index: int, output: OutputKind, target: Target | None) -> GradientFunction:
        import jax
        import jax.numpy as jnp

        scorers = [scoring_model(model, output) for model in self.models]
        template = scorers[0]
        units = template.output_shape[-1] if len(template.output_shape) > 1 else 1
        if target is None and not 0 <= class_index < units:
            raise ValueError(f"class_index must be in [0, {units}); got {class_index}")
        dtype = keras.backend.standardize_dtype(template.inputs[0].dtype) if template.inputs else "float32"
        select = _unit_selector(target)

        def stacked(variables_of) -> list:
            return [jax.device_put(np.stack([np.asarray(v.value) for v in values])) for values in
                    zip(*[variables_of(scorer) for scorer in scorers])]  # fmt: skip

        trainable = stacked(lambda scorer: scorer.trainable_variables)
        non_trainable = stacked(lambda scorer: scorer.non_trainable_variables)

        def summed_score(inputs, trainable_values, non_trainable_values):
            predictions, _ = template.stateless_call(
                trainable_values, non_trainable_values, inputs, training=False
            )
            return jnp.sum(select(predictions, class_index))

        member_gradient = jax.grad(summed_score)

        @jax.jit
        def group_gradient(inputs, trainable_values, non_trainable_values):
            grads = jax.vmap(member_gradient, in_axes=(None, 0, 0))(
                inputs, trainable_values, non_trainable_values
            )
            return jnp.swapaxes(grads, 0, 1)  # (B, K, L, A): the batch first, as the streams keep it

        def run(inputs: np.ndarray) -> np.ndarray:
            return np.asarray(group_gradient(jnp.asarray(inputs, dtype=dtype), trainable, non_trainable))

        run.fixed_shape = True
        return run


def group_maps(
    group: MemberGroup,
    x: np.ndarray,
    method: str,
    options: dict | None = None,
    batch_size: int = 128,
    class_index: int = 0,
    output: OutputKind = "probability",
) -> np.ndarray:
    """Raw maps of every member of ``group`` by one method of :data:`METHODS`.

    Parameters
    ----------
    group : MemberGroup
        ``K`` members.
    x : numpy.ndarray
        One-hot sequences ``(N, L, A)``.
    method : str
        A method of :data:`METHODS`; its points (references, noise) are drawn as for one model.
    options : dict or None
        The method's own options (:func:`method_options`).
    batch_size : int
        Points per gradient call (each call evaluates them on all ``K`` members).
    class_index, output
        As for :func:`simplexgrad.attribution.methods.saliency`.

    Returns
    -------
    numpy.ndarray
        Float32 ``(K, N, L, A)``: member ``k``'s raw maps at ``[k]``.
    """
    raw = METHODS[method](
        group, x, batch_size=batch_size, class_index=class_index, output=output, progress=False,
        **(options or {}),
    )  # fmt: skip
    return np.moveaxis(raw, 1, 0)  # (N, K, L, A) -> (K, N, L, A)


def group_members(
    seeds: Sequence[int],
    init_stddevs: Sequence[str] | None = None,
    angle_penalties: Sequence[str] | None = None,
) -> list[dict[str, object]]:
    """The members' template values: the product of σ texts, λ texts and seeds (seeds within), each a
    dict of ``seed``, ``index`` (the seed's position in ``seeds``), ``init_stddev``, ``angle_penalty``
    (the texts as given; None where not given), as ``simplexgrad train-ensemble`` orders its members."""
    return [
        {"seed": seed, "index": index, "init_stddev": sigma, "angle_penalty": strength}
        for sigma, strength, (index, seed) in itertools.product(
            init_stddevs or [None], angle_penalties or [None], enumerate(seeds)
        )
    ]


def member_path(template: str, member: dict[str, object], name: str) -> str:
    """``template`` with the member's values; a field it lacks a value for, or an unknown one, refused."""
    fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    unknown = sorted(fields - set(TEMPLATE_FIELDS))
    missing = sorted(field for field in fields & set(TEMPLATE_FIELDS) if member[field] is None)
    if unknown or missing:
        raise ValueError(
            f"{name} {template!r}: fields {unknown or missing} have no values "
            f"(it may use {list(TEMPLATE_FIELDS)}; init_stddev and angle_penalty with their lists)"
        )
    return template.format(**member)
