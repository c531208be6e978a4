"""``simplexgrad attribute-group``: a group's maps and evaluation tables, per member, in one JAX job.

The ensemble engine's groups (same-shape models: a model type's seeds and, in a training study, its
settings) are explained here with :class:`simplexgrad.attribution.group.MemberGroup` (one vmapped gradient
for all members) and evaluated per member with :func:`simplexgrad.studies.evaluation.evaluate_methods_file`,
so that each member's files are those of the per-model rules (``attribute-methods``, ``evaluate-methods``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Literal

import numpy as np

from simplexgrad._arrays import OutputKind, check_method_list
from simplexgrad._optional import needs

with needs("jax", "simplexgrad.studies.group_attribution"):
    from simplexgrad.attribution.commands import _parsed_options
    from simplexgrad.attribution.group import MemberGroup, group_maps, group_members, member_path
    from simplexgrad.attribution.methods import method_options
    from simplexgrad.backend import configure_threads, load_model
    from simplexgrad.correction import correct

__all__ = ["attribute_group"]

log = logging.getLogger(__name__)


def attribute_group(
    data: str,
    models_template: str,
    attributions_template: str,
    methods: list[str],
    seeds: list[int],
    init_stddevs: list[str] | None = None,
    angle_penalties: list[str] | None = None,
    evaluation_template: str | None = None,
    labels: list[str] | None = None,
    thresholds: list[float] | None = None,
    split: Literal["train", "valid", "test"] = "test",
    positives_only: bool = False,
    num_seqs: int | None = None,
    output: OutputKind = "probability",
    batch_size: int = 128,
    members_per_call: int = 64,
    options: list[str] | None = None,
    evaluation_workers: int = 1,
    threads: int | None = None,
) -> None:
    """Maps of several methods (and their tables) for every member of a group, gradients vmapped (JAX).

    Each member's attribution folder gets ``<method>.npz`` as ``simplexgrad attribute-methods`` writes it
    for that member's model; with an evaluation template, each member's evaluation folder gets the tables
    of ``simplexgrad evaluate-methods``. Members are the product of --init-stddevs, --angle-penalties and
    --seeds (seeds within), as ``simplexgrad train-ensemble`` makes them. Needs ``KERAS_BACKEND=jax``.

    Parameters
    ----------
    data : str
        Dataset file (.h5) with ``x_<split>`` and ``y_<split>`` (and the ground truth, for evaluation).
    models_template : str
        Member folder of model.keras and metrics.json, with {seed}, {index}, {init_stddev}, {angle_penalty}.
    attributions_template : str
        Member folder to write one attribution file per method in, ``<method>.npz``, with the same fields.
        Each holds raw and corrected ``(N, L, A)``, x ``(N, L, A)``, indices ``(N,)`` and the parameters.
    methods : list of str
        Methods of :data:`METHODS`, each named once.
    seeds : list of int
        The members' seeds (per setting).
    init_stddevs : list of str or None
        Settings of {init_stddev}, as texts (the folder names' text).
    angle_penalties : list of str or None
        Settings of {angle_penalty}, as texts (the folder names' text).
    evaluation_template : str or None
        Member folder for ``<method>.metrics.tsv``, ``.angles.tsv`` and ``.model.tsv`` (evaluate-methods').
    labels : list of str or None
        Identifying columns of the tables, as NAME=VALUE; VALUE may hold the template's fields ({seed}).
    thresholds : list of float or None
        Angles (degrees) for the large-angle percentages; default 30, 45 and 60.
    split : {'train', 'valid', 'test'}
        Dataset split to explain.
    positives_only : bool
        Keep only sequences labelled 1.
    num_seqs : int or None
        Explain only the first N selected sequences.
    output : {'probability', 'logit'}
        Differentiate the sigmoid output or its logit.
    batch_size : int
        Model inputs per gradient call and member.
    members_per_call : int
        Members whose gradients one compiled call computes (bounds host and device memory).
    options : list of str or None
        Methods' own options as METHOD.NAME=VALUE, e.g. integrated_gradients.steps=25.
    evaluation_workers : int
        Processes evaluating members while the next members' gradients run (1: in this process, in turn).
        They are spawned: a script calling this function needs the ``if __name__ == '__main__'`` guard.
    threads : int or None
        CPU threads for the backend.
    """
    from simplexgrad import io

    check_method_list(methods)
    chosen = _parsed_options(options or [], methods)
    if members_per_call < 1 or evaluation_workers < 1:
        counts = f"{members_per_call}, {evaluation_workers}"
        raise ValueError(f"members_per_call and evaluation_workers must be >= 1; got {counts}")
    members = group_members(seeds, init_stddevs, angle_penalties)
    folders = {
        name: [member_path(template, member, f"--{name.replace('_', '-')}") for member in members]
        for name, template in (
            ("models_template", models_template),
            ("attributions_template", attributions_template),
            *([("evaluation_template", evaluation_template)] if evaluation_template else []),
        )
    }
    for name, paths in folders.items():
        if len(set(paths)) < len(paths):
            raise ValueError(
                f"--{name.replace('_', '-')}: members share a folder; use the fields that differ"
            )
    configure_threads(threads)
    split_data = io.load_split(data, split)
    indices = io.select_rows(split_data.y, positives_only, num_seqs, 0, f"{data}:{split}")
    x = split_data.x[indices]
    log.info("%d members, %d sequences of %s:%s, methods %s", len(members), len(x), data, split, methods)
    if evaluation_template:
        from simplexgrad.studies.evaluation import evaluate_methods_file  # the workflow extra: pandas, scipy
    with contextlib.ExitStack() as stack:
        pool = None
        if evaluation_template and evaluation_workers > 1:  # spawned: no fork of a process running JAX
            context = multiprocessing.get_context("spawn")
            pool = stack.enter_context(ProcessPoolExecutor(evaluation_workers, mp_context=context))
        evaluations = []
        for chunk in _chunks(range(len(members)), members_per_call):
            _explain_chunk(chunk, folders, x, indices, split, methods, chosen, batch_size, output)
            for member in chunk if evaluation_template else []:
                arguments = _evaluation_arguments(
                    data, methods, folders, member, members[member], labels, thresholds
                )
                if pool is None:
                    evaluate_methods_file(**arguments)
                else:
                    evaluations.append(pool.submit(evaluate_methods_file, **arguments))
        for evaluation in evaluations:
            evaluation.result()  # a worker's error is raised here


def _explain_chunk(
    chunk: list[int],
    folders: dict[str, list[str]],
    x: np.ndarray,
    indices: np.ndarray,
    split: str,
    methods: list[str],
    chosen: dict[str, dict],
    batch_size: int,
    output: OutputKind,
) -> None:
    """Every method's maps of the members ``chunk`` (one :class:`MemberGroup`), written per member as
    ``attribute-methods`` writes them."""
    from simplexgrad import io

    models = [load_model(os.path.join(folders["models_template"][k], "model.keras")) for k in chunk]
    group = MemberGroup(models)
    maps = {}  # method -> (K, N, L, A) raw maps and the parameters `attribute-methods` records
    for method in methods:
        parameters = {"batch_size": batch_size, "output": output, "layout": "NLA", "class_index": 0}
        defaults = {name: p.default for name, p in method_options(method).items()}
        settings = {**defaults, **parameters, **chosen[method]}
        log.info("%s of members %d-%d: %s", method, chunk[0], chunk[-1], settings)
        raw = group_maps(group, x, method, chosen[method], batch_size, 0, output)
        maps[method] = raw, {"method": method, "split": split, "model": "model.keras", **settings}
    for position, member in enumerate(chunk):
        out_dir = folders["attributions_template"][member]
        for method, (raw, record) in maps.items():
            member_raw = np.ascontiguousarray(raw[position])
            corrected = correct(member_raw, axis=2, alphabet_size=None)
            io.save_attributions(
                os.path.join(out_dir, f"{method}.npz"), member_raw, corrected, x, indices, record
            )


def _evaluation_arguments(
    data: str,
    methods: list[str],
    folders: dict[str, list[str]],
    member: int,
    values: dict[str, object],
    labels: list[str] | None,
    thresholds: list[float] | None,
) -> dict[str, object]:
    """The arguments of ``simplexgrad evaluate-methods`` (:func:`evaluate_methods_file`) for one member."""
    return {
        "attributions_dir": folders["attributions_template"][member],
        "methods": methods,
        "data": data,
        "classification": os.path.join(folders["models_template"][member], "metrics.json"),
        "out_dir": folders["evaluation_template"][member],
        "labels": [member_path(label, values, "--labels") for label in labels or []],
        "thresholds": thresholds,
    }


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]
