"""JAX side of the ensemble engine: one model structure's training and inference, vmapped over members.

Variable values travel as lists of ``(K, ...)`` arrays (``K`` members stacked on the first axis) in the
model's variable order; the Keras model only supplies the computation, through ``stateless_call``, and
Adam its update rule, through ``stateless_apply``. One :class:`GroupProgram` serves every group of one
structure (compiled once per group size and batch shape). JAX is imported only when a program is built.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simplexgrad._optional import needs

with needs("jax", "simplexgrad.training._ensemble_program"):
    import keras

    from simplexgrad.backend import scoring_model
    from simplexgrad.training.recipe import angle_penalty

__all__ = ["GroupProgram", "program_for", "stacked_values", "device_chunks"]

PREDICT_CHUNK = 500
_PROGRAMS: dict[tuple, GroupProgram] = {}


class GroupProgram:
    """Jit-compiled, vmapped training epochs and predictions for models shaped like ``template``.

    A state is ``(trainable, non_trainable, optimizer)``: lists of ``(K, ...)`` arrays in the order of
    the model's ``trainable_variables``, ``non_trainable_variables`` (batch-norm statistics and dropout
    seeds) and Adam's ``variables`` (iteration, learning rate, moments).
    """

    def __init__(self, template: keras.Model):
        import jax

        self.model = scoring_model(template, "logit")  # the same variables in the same order; logits out
        self.optimizer = keras.optimizers.Adam()
        self.optimizer.build(self.model.trainable_variables)
        names = [variable.name for variable in self.optimizer.variables]
        self.rate_index = names.index("learning_rate")
        self._orders = jax.jit(self._epoch_orders, static_argnames=("count",))
        self._train_batch = jax.jit(self._group_step, static_argnames=("batch_size", "strength", "mode"))
        self._predict_chunk = jax.jit(self._chunk_logits)
        self.keep_where = jax.jit(_keep_where)

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
        self, state, x, y, keys, epoch: int, active, batch_size: int, strength: float, mode: str = "training"
    ):
        """One epoch of every member on the device-resident ``x (N, L, A)``, ``y (N, 1)``.

        Member ``k`` visits the rows in its own order (a permutation drawn from ``keys[k]`` and the
        epoch), in batches of ``batch_size`` and a last, smaller batch, as ``model.fit`` does; members
        with ``active[k]`` false keep their state. One compiled call per batch: XLA's CPU backend runs
        convolutions inside a ``lax.scan`` several times slower, and on a GPU the calls queue up
        asynchronously. ``strength`` and ``mode`` are the angle penalty's (see :meth:`member_loss`).

        Returns
        -------
        tuple
            The new state; each member's order ``(K, N)``; its mean loss over the epoch ``(K,)`` (batch
            losses weighted by batch size, as Keras logs ``loss``); and its training-mode probabilities
            ``(K, N)`` in visiting order.
        """
        import jax.numpy as jnp

        count = x.shape[0]
        orders = self._orders(keys, epoch, count=count)
        starts = range(0, count, batch_size)
        losses, probabilities = [], []
        for start in starts:  # queued without waiting; results come back once, below
            size = min(batch_size, count - start)
            state, loss, batch_probabilities = self._train_batch(
                state, x, y, orders, start, active, batch_size=size, strength=strength, mode=mode
            )
            losses.append(loss)
            probabilities.append(batch_probabilities)
        sizes = np.array([min(batch_size, count - start) for start in starts], dtype=np.float64)
        mean_loss = sizes @ np.asarray(jnp.stack(losses), dtype=np.float64) / count
        return state, np.asarray(orders), mean_loss, np.asarray(jnp.concatenate(probabilities, axis=1))

    def predict(self, trainable, non_trainable, chunks: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Inference-mode logits ``(K, Σ chunk rows)`` and regularisation losses ``(K,)``."""
        outputs = [self._predict_chunk(trainable, non_trainable, chunk) for chunk in chunks]
        logits = np.concatenate([np.asarray(chunk_logits) for chunk_logits, _ in outputs], axis=1)
        return logits, np.asarray(outputs[0][1])

    def member_loss(self, trainable, non_trainable, x, y, strength: float, mode: str = "training"):
        """One member's training loss on a ``(B, L, A)`` batch, as the TF engine computes it.

        BCE on the logit (TensorFlow's path for a sigmoid output), the layers' L2 penalties and, for
        ``strength`` λ > 0, ``λ · angle_penalty`` of the saliency (gradient of the summed probability):
        with ``mode`` ``"training"`` (the authors') that of the same training-mode forward pass (dropout
        on, batch statistics); with ``"inference"`` that of the inference-mode model, with this batch's
        updated batch-norm statistics read as values (no gradient flows through them).

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

        if strength > 0 and mode == "training":
            (_, (logits, updated, losses)), saliency = jax.value_and_grad(forward, has_aux=True)(x)
        else:
            _, (logits, updated, losses) = forward(x)
        loss = jnp.mean(keras.ops.binary_crossentropy(y, logits, from_logits=True)) + sum(losses)
        if strength > 0 and mode == "inference":
            statistics = jax.lax.stop_gradient(updated)

            def summed_probability(inputs):
                scores, _ = self.model.stateless_call(trainable, statistics, inputs, training=False)
                return jnp.sum(jax.nn.sigmoid(scores[:, 0]))

            saliency = jax.grad(summed_probability)(x)
        if strength > 0:
            loss = loss + strength * angle_penalty(saliency)
        return loss, (updated, logits)

    def _member_step(self, state, x, y, active, strength: float, mode: str):
        """One member's step on a ``(B, L, A)`` batch: :meth:`member_loss`, Adam, masked by ``active``."""
        import jax
        import jax.numpy as jnp

        trainable, non_trainable, optimizer_values = state

        def loss_function(trainable_values):
            return self.member_loss(trainable_values, non_trainable, x, y, strength, mode)

        (loss, (updated, logits)), grads = jax.value_and_grad(loss_function, has_aux=True)(trainable)
        new_trainable, new_optimizer = self.optimizer.stateless_apply(optimizer_values, grads, trainable)
        new_state = jax.tree.map(
            lambda new, old: jnp.where(active, new, old), (new_trainable, updated, new_optimizer), state
        )
        return new_state, loss, jax.nn.sigmoid(logits[:, 0])

    def _group_step(self, state, x, y, orders, start, active, batch_size: int, strength: float, mode: str):
        """Every member's step on its rows ``orders[:, start : start + batch_size]`` of ``x`` and ``y``."""
        import jax

        indices = jax.lax.dynamic_slice_in_dim(orders, start, batch_size, axis=1)
        step = jax.vmap(lambda s, xb, yb, a: self._member_step(s, xb, yb, a, strength, mode))
        return step(state, x[indices], y[indices], active)

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

        return jax.vmap(member)(trainable, non_trainable)


def _keep_where(mask, new, old):
    """Per member (first axis), ``new`` where ``mask`` else ``old``, for matching lists of arrays."""
    import jax
    import jax.numpy as jnp

    return jax.tree.map(lambda a, b: jnp.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, old)


def program_for(model: keras.Model) -> GroupProgram:
    """The cached program for ``model``'s structure (its name and weight shapes)."""
    key = (model.name, tuple(tuple(weight.shape) for weight in model.weights))
    if key not in _PROGRAMS:
        _PROGRAMS[key] = GroupProgram(model)
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
