"""JAX side of the ensemble engine: one model structure's training and inference, vmapped over members.

Variable values travel as lists of ``(K, ...)`` arrays (``K`` members stacked on the first axis) in the
model's variable order; the Keras model only supplies the computation, through ``stateless_call``, and
Adam its update rule, through ``stateless_apply``. One :class:`GroupProgram` serves every group of one
structure, convolution formulation and precision (:mod:`._ensemble_forward`; compiled once per group
size and batch shape). JAX is imported only when a program is built.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simplexgrad._optional import needs

with needs("jax", "simplexgrad.training._ensemble_program"):
    import keras

    from simplexgrad.backend import scoring_model
    from simplexgrad.training._ensemble_forward import (
        Convolution,
        Precision,
        check_choice,
        convolutions,
        matmul_precision,
    )
    from simplexgrad.training.recipe import angle_penalty

__all__ = ["GroupProgram", "program_for", "stacked_values", "device_chunks"]

PREDICT_CHUNK = 500
_PROGRAMS: dict[tuple, GroupProgram] = {}


class GroupProgram:
    """Jit-compiled, vmapped training epochs and predictions for models shaped like ``template``.

    A state is ``(trainable, non_trainable, optimizer)``: lists of ``(K, ...)`` arrays in the order of
    the model's ``trainable_variables``, ``non_trainable_variables`` (batch-norm statistics and dropout
    seeds) and Adam's ``variables`` (iteration, learning rate, moments).

    Parameters
    ----------
    template : keras.Model
        Any member (only its structure is used).
    convolution : {'vmap', 'im2col'}
        How the members' convolutions are computed (:func:`._ensemble_forward.convolutions`).
    precision : {'float32', 'tf32'}
        Arithmetic of matrix products and convolutions (:func:`._ensemble_forward.matmul_precision`).
    """

    def __init__(
        self, template: keras.Model, convolution: Convolution = "vmap", precision: Precision = "float32"
    ):
        import jax

        check_choice("convolution", convolution, ("vmap", "im2col"))
        check_choice("precision", precision, ("float32", "tf32"))
        self.convolution, self.precision = convolution, precision
        self.model = scoring_model(template, "logit")  # the same variables in the same order; logits out
        self.optimizer = keras.optimizers.Adam()
        self.optimizer.build(self.model.trainable_variables)
        names = [variable.name for variable in self.optimizer.variables]
        self.rate_index = names.index("learning_rate")
        self._orders = jax.jit(self._epoch_orders, static_argnames=("count",))
        step_options = ("batch_size", "penalised", "mode")
        self._train_batch = jax.jit(self._group_step, static_argnames=step_options)
        self._train_batches = jax.jit(self._group_steps, static_argnames=(*step_options, "steps"))
        self._predict_chunk = jax.jit(self._chunk_logits)
        self.keep_where = jax.jit(_keep_where)
        self.take = jax.jit(_take)
        self.put = jax.jit(_put)

    def initial_state(self, models: Sequence[keras.Model], learning_rates: np.ndarray) -> tuple:
        """The members' built weights, fresh Adam slots and their ``(K,)`` learning rates."""
        import jax

        trainable, non_trainable = stacked_values(models)
        fresh = [
            jax.device_put(np.broadcast_to(np.asarray(v.value), (len(models), *v.shape)))
            for v in self.optimizer.variables
        ]
        return self.with_learning_rates((trainable, non_trainable, fresh), learning_rates)

    def with_learning_rates(self, state: tuple, learning_rates: np.ndarray) -> tuple:
        """``state`` with Adam's learning rates set to ``(K,)`` values."""
        import jax

        optimizer_values = list(state[2])
        dtype = self.optimizer.variables[self.rate_index].dtype
        optimizer_values[self.rate_index] = jax.device_put(np.asarray(learning_rates, dtype=dtype))
        return state[0], state[1], optimizer_values

    def run_epoch(
        self,
        state,
        x,
        y,
        keys,
        epoch: int,
        active,
        batch_size: int,
        strength,
        mode: str = "training",
        loop: str = "per_batch",
        penalised: bool | None = None,
    ):
        """One epoch of every member on the device-resident ``x (N, L, A)``, ``y (N, 1)``.

        Member ``k`` visits the rows in its own order (a permutation drawn from ``keys[k]`` and the
        epoch), in batches of ``batch_size`` and a last, smaller batch, as ``model.fit`` does; members
        with ``active[k]`` false keep their state. ``strength`` is the angle penalty's ``(K,)`` λ (a
        float: the same for all), ``mode`` its mode (see :meth:`member_loss`); ``penalised`` (default: any
        λ > 0) whether the program computes the penalty: a group whose λ are all 0 compiles none.
        ``loop`` ``"per_batch"``: one compiled call per batch (XLA's CPU backend runs convolutions inside
        a ``lax.scan`` several times slower; on a GPU the calls queue up asynchronously); ``"compiled"``:
        the full batches as one ``lax.scan`` program, the last smaller batch as one more call (the same
        steps in the same order).

        Returns
        -------
        tuple
            The new state; each member's order ``(K, N)``; its mean loss over the epoch ``(K,)`` (batch
            losses weighted by batch size, as Keras logs ``loss``); and its training-mode probabilities
            ``(K, N)`` in visiting order.
        """
        import jax
        import jax.numpy as jnp

        check_choice("loop", loop, ("per_batch", "compiled"))
        count, members = x.shape[0], keys.shape[0]
        strengths = np.broadcast_to(np.asarray(strength, dtype=keras.config.floatx()), (members,))
        penalised = bool(np.any(strengths > 0)) if penalised is None else penalised
        strengths = jax.device_put(np.ascontiguousarray(strengths))
        options = {"penalised": penalised, "mode": mode}
        starts = list(range(0, count, batch_size))
        losses, probabilities = [], []
        with matmul_precision(self.precision):
            orders = self._orders(keys, epoch, count=count)
            full = count // batch_size
            if loop == "compiled" and full > 0:
                state, loss, batch_probabilities = self._train_batches(
                    state, x, y, orders, active, strengths, batch_size=batch_size, steps=full, **options
                )
                losses.append(loss)
                probabilities.append(batch_probabilities)
                starts = starts[full:]
            for start in starts:  # queued without waiting; results come back once, below
                size = min(batch_size, count - start)
                state, loss, batch_probabilities = self._train_batch(
                    state, x, y, orders, start, active, strengths, batch_size=size, **options
                )
                losses.append(loss[None])
                probabilities.append(batch_probabilities)
        sizes = np.array([min(batch_size, count - start) for start in range(0, count, batch_size)])
        batch_losses = np.asarray(jnp.concatenate(losses), dtype=np.float64)  # (batches, K)
        mean_loss = sizes.astype(np.float64) @ batch_losses / count
        return state, np.asarray(orders), mean_loss, np.asarray(jnp.concatenate(probabilities, axis=1))

    def predict(self, trainable, non_trainable, chunks: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Inference-mode logits ``(K, Σ chunk rows)`` and regularisation losses ``(K,)``."""
        with matmul_precision(self.precision):
            outputs = [self._predict_chunk(trainable, non_trainable, chunk) for chunk in chunks]
        logits = np.concatenate([np.asarray(chunk_logits) for chunk_logits, _ in outputs], axis=1)
        return logits, np.asarray(outputs[0][1])

    def member_loss(
        self, trainable, non_trainable, x, y, strength, mode: str = "training", penalised: bool | None = None
    ):
        """One member's training loss on a ``(B, L, A)`` batch, as the TF engine computes it.

        BCE on the logit (TensorFlow's path for a sigmoid output), the layers' L2 penalties and, for
        ``strength`` λ > 0, ``λ · angle_penalty`` of the saliency (gradient of the summed probability):
        with ``mode`` ``"training"`` (the authors') that of the same training-mode forward pass (dropout
        on, batch statistics); with ``"inference"`` that of the inference-mode model, with this batch's
        updated batch-norm statistics read as values (no gradient flows through them). ``strength`` may
        be traced (a member's λ in a group); ``penalised`` (default: ``strength > 0``, for a number) says
        whether the penalty is computed at all. Where it is and λ is 0, the loss is the unpenalised one
        exactly (the penalty enters through ``where``) and the penalty's gradient is zero.

        Returns
        -------
        tuple
            The scalar loss and ``(updated non-trainable values, (B, 1) training-mode logits)``.
        """
        import jax
        import jax.numpy as jnp

        def forward(inputs):
            logits, updated, losses = self.model.stateless_call(
                trainable, non_trainable, inputs, training=True, return_losses=True
            )
            return jnp.sum(jax.nn.sigmoid(logits[:, 0])), (logits, updated, losses)

        if penalised is None:
            penalised = bool(strength > 0)
        if penalised and mode == "training":
            (_, (logits, updated, losses)), saliency = jax.value_and_grad(forward, has_aux=True)(x)
        else:
            _, (logits, updated, losses) = forward(x)
        loss = jnp.mean(keras.ops.binary_crossentropy(y, logits, from_logits=True)) + sum(losses)
        if penalised and mode == "inference":
            statistics = jax.lax.stop_gradient(updated)

            def summed_probability(inputs):
                scores, _ = self.model.stateless_call(trainable, statistics, inputs, training=False)
                return jnp.sum(jax.nn.sigmoid(scores[:, 0]))

            saliency = jax.grad(summed_probability)(x)
        if penalised:
            loss = loss + jnp.where(strength > 0, strength * angle_penalty(saliency), 0.0)
        return loss, (updated, logits)

    def _member_step(self, state, x, y, active, strength, penalised: bool, mode: str):
        """One member's step on a ``(B, L, A)`` batch: :meth:`member_loss`, Adam, masked by ``active``."""
        import jax
        import jax.numpy as jnp

        trainable, non_trainable, optimizer_values = state

        def loss_function(trainable_values):
            return self.member_loss(trainable_values, non_trainable, x, y, strength, mode, penalised)

        (loss, (updated, logits)), grads = jax.value_and_grad(loss_function, has_aux=True)(trainable)
        new_trainable, new_optimizer = self.optimizer.stateless_apply(optimizer_values, grads, trainable)
        new_state = jax.tree.map(
            lambda new, old: jnp.where(active, new, old), (new_trainable, updated, new_optimizer), state
        )
        return new_state, loss, jax.nn.sigmoid(logits[:, 0])

    def _group_step(
        self, state, x, y, orders, start, active, strengths, batch_size: int, penalised: bool, mode: str
    ):
        """Every member's step on its rows ``orders[:, start : start + batch_size]`` of ``x`` and ``y``.

        Returns the new state, the ``(K,)`` batch losses and the ``(K, batch_size)`` probabilities."""
        import jax

        indices = jax.lax.dynamic_slice_in_dim(orders, start, batch_size, axis=1)
        step = jax.vmap(lambda s, xb, yb, a, lam: self._member_step(s, xb, yb, a, lam, penalised, mode))
        with convolutions(self.model, self.convolution):  # while tracing
            return step(state, x[indices], y[indices], active, strengths)

    def _group_steps(
        self, state, x, y, orders, active, strengths, batch_size: int, steps: int, penalised: bool, mode: str
    ):
        """:meth:`_group_step` on the first ``steps`` full batches, as one ``lax.scan``.

        Returns the new state, ``(steps, K)`` batch losses and ``(K, steps · batch_size)`` probabilities."""
        import jax
        import jax.numpy as jnp

        def body(carried, start):
            new, loss, probabilities = self._group_step(
                carried, x, y, orders, start, active, strengths, batch_size, penalised, mode
            )
            return new, (loss, probabilities)

        starts = jnp.arange(steps, dtype=orders.dtype) * batch_size
        state, (losses, probabilities) = jax.lax.scan(body, state, starts)
        members = probabilities.shape[1]
        return state, losses, jnp.swapaxes(probabilities, 0, 1).reshape(members, steps * batch_size)

    def step_cost(self, state, x, y, keys, batch_size: int, strength, mode: str = "training") -> dict:
        """XLA's cost analysis (``flops``, ``bytes accessed``, …) of one compiled step on a full batch."""
        import jax

        members = keys.shape[0]
        strengths = np.broadcast_to(np.asarray(strength, dtype=keras.config.floatx()), (members,))
        with matmul_precision(self.precision):
            orders = self._orders(keys, 0, count=x.shape[0])
            lowered = self._train_batch.lower(
                state, x, y, orders, 0, jax.numpy.ones(members, bool), jax.device_put(strengths),
                batch_size=batch_size, penalised=bool(np.any(strengths > 0)), mode=mode,
            )  # fmt: skip
            analysis = lowered.compile().cost_analysis()
        return dict(analysis[0] if isinstance(analysis, list) else analysis)

    def _epoch_orders(self, keys, epoch, count: int):
        """``(K, count)``: member ``k``'s permutation of the rows for this epoch."""
        import jax

        epoch_keys = jax.vmap(lambda key: jax.random.fold_in(key, epoch))(keys)
        return jax.vmap(lambda key: jax.random.permutation(key, count))(epoch_keys)

    def _chunk_logits(self, trainable, non_trainable, inputs):
        import jax

        def member(trainable_values, non_trainable_values):
            logits, _, losses = self.model.stateless_call(
                trainable_values, non_trainable_values, inputs, training=False, return_losses=True
            )
            return logits[:, 0], sum(losses)

        with convolutions(self.model, self.convolution):  # while tracing
            return jax.vmap(member)(trainable, non_trainable)


def _keep_where(mask, new, old):
    """Per member (first axis), ``new`` where ``mask`` else ``old``, for matching lists of arrays."""
    import jax
    import jax.numpy as jnp

    return jax.tree.map(lambda a, b: jnp.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, old)


def _take(slots, values):
    """Rows ``slots`` (first axis) of every array of a nested state: a smaller group's state."""
    import jax

    return jax.tree.map(lambda array: array[slots], values)


def _put(values, slots, part):
    """``values`` with rows ``slots`` replaced by ``part``'s rows (distinct slots), for nested states."""
    import jax

    return jax.tree.map(lambda array, rows: array.at[slots].set(rows), values, part)


def program_for(
    model: keras.Model, convolution: Convolution = "vmap", precision: Precision = "float32"
) -> GroupProgram:
    """The cached program for ``model``'s structure (its name and weight shapes) and these options."""
    key = (model.name, tuple(tuple(weight.shape) for weight in model.weights), convolution, precision)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = GroupProgram(model, convolution, precision)
    return _PROGRAMS[key]


def stacked_values(models: Sequence[keras.Model]) -> tuple[list, list]:
    """The models' trainable and non-trainable variable values, stacked: lists of ``(K, ...)`` arrays.

    Stacked on the host and put on the device once per variable: ``jnp.stack`` (or ``jnp.asarray``)
    would compile an XLA program for each variable shape."""
    import jax

    def stack(per_model):
        return [jax.device_put(np.stack([np.asarray(v) for v in values])) for values in zip(*per_model)]

    return (
        stack([[v.value for v in model.trainable_variables] for model in models]),
        stack([[v.value for v in model.non_trainable_variables] for model in models]),
    )


def device_chunks(x: np.ndarray, size: int = PREDICT_CHUNK) -> list:
    """``x (N, L, A)`` on the device in blocks of ``size`` rows, the last zero-padded (one compiled shape)."""
    import jax

    padded = np.zeros((-(-len(x) // size) * size, *x.shape[1:]), dtype=keras.config.floatx())
    padded[: len(x)] = x
    return [jax.device_put(padded[start : start + size]) for start in range(0, len(padded), size)]
