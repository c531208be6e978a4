"""Which members ``simplexgrad train-ensemble`` trains and where each is saved (NumPy-free, Keras-free).

Members are the product of settings (``init_stddev`` σ × ``angle_penalty`` λ) × first-layer widths ×
seeds. σ and λ are given as text on the command line (``--init-stddevs 2.0e-2 5e-2``) and a member's
folder repeats that text exactly (``{init_stddev}`` in the template becomes ``2.0e-2``), so a workflow can
name folders by its own config strings.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Setting", "member_settings", "member_directories", "TEMPLATE_FIELDS"]

TEMPLATE_FIELDS = ("seed", "index", "filters", "init_stddev", "angle_penalty")
HE_NORMAL = ("none", "he_normal")  # σ texts meaning Keras' he_normal (init_stddev None)


@dataclass(frozen=True)
class Setting:
    """One (σ, λ) of a run: the values and their text as given (the text names folders)."""

    init_stddev: float | None
    angle_penalty: float
    init_stddev_text: str
    angle_penalty_text: str


def _stddev(text: str) -> float | None:
    if text.strip().lower() in HE_NORMAL:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--init-stddevs: {text!r} is not a number (or 'none' for he_normal)") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"--init-stddevs: {text!r} must be > 0 (or 'none' for he_normal)")
    return value


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--angle-penalties: {text!r} is not a number") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"--angle-penalties: {text!r} must be a finite number >= 0")
    return value


def _values(option: str, texts: Sequence[str], parse) -> list[tuple[object, str]]:
    values = [(parse(text), text) for text in texts]
    parsed = [value for value, _ in values]
    if len(set(parsed)) != len(parsed):
        raise ValueError(f"{option} {list(texts)} repeats a value")
    return values


def member_settings(
    init_stddev: float | None,
    init_stddevs: Sequence[str] | None,
    angle_penalty: float,
    angle_penalties: Sequence[str] | None,
) -> list[Setting]:
    """The settings of a run, σ-major: the plural options' values, else the singular ones (as ``str``).

    Raises
    ------
    ValueError
        For both forms of one option, a value that is not a number (σ: > 0 or 'none'; λ: >= 0) or a
        repeated value.
    """
    if init_stddevs and init_stddev is not None:
        raise ValueError("give --init-stddev or --init-stddevs, not both")
    if angle_penalties and angle_penalty != 0:
        raise ValueError("give --angle-penalty or --angle-penalties, not both")
    single = [(init_stddev, str(init_stddev))]
    stddevs = _values("--init-stddevs", init_stddevs, _stddev) if init_stddevs else single
    strengths = (
        _values("--angle-penalties", angle_penalties, _strength)
        if angle_penalties
        else [(float(angle_penalty), str(angle_penalty))]
    )
    return [
        Setting(sigma, strength, sigma_text, strength_text)
        for sigma, sigma_text in stddevs
        for strength, strength_text in strengths
    ]


def member_directories(
    template: str, seeds: Sequence[int], widths: Sequence[int], settings: Sequence[Setting]
) -> dict[tuple[int, Setting, int], str]:
    """``{(filters, setting, seed): directory}``; refuses templates that would put two members in one place.

    Raises
    ------
    ValueError
        For a template without {seed} or {index}, with other fields than :data:`TEMPLATE_FIELDS`, or
        without the field of a value that varies ({filters}, {init_stddev}, {angle_penalty}); for repeated
        seeds or widths.
    """
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise ValueError(f"--out-template {template!r}: {error}") from None
    if not fields & {"seed", "index"} or not fields <= set(TEMPLATE_FIELDS):
        raise ValueError(
            f"--out-template {template!r} must contain {{seed}} or {{index}} and no fields but "
            "{filters}, {init_stddev} and {angle_penalty}"
        )
    varying = {
        "filters": (len(widths), "several first-layer widths"),
        "init_stddev": (len({s.init_stddev_text for s in settings}), "several --init-stddevs"),
        "angle_penalty": (len({s.angle_penalty_text for s in settings}), "several --angle-penalties"),
    }
    for field, (count, what) in varying.items():
        if count > 1 and field not in fields:
            raise ValueError(f"--out-template {template!r} needs {{{field}}} for {what}")
    if not seeds or len(set(seeds)) != len(seeds) or len(set(widths)) != len(widths):
        raise ValueError(
            f"seeds {list(seeds)} and first-layer filters {list(widths)} need values without repeats"
        )
    directories = {
        (width, setting, seed): template.format(
            seed=seed,
            index=index,
            filters=width,
            init_stddev=setting.init_stddev_text,
            angle_penalty=setting.angle_penalty_text,
        )
        for setting in settings
        for width in widths
        for index, seed in enumerate(seeds)
    }
    if len(set(directories.values())) != len(directories):
        raise ValueError(f"--out-template {template!r} puts several members in one folder")
    return directories
