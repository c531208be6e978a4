"""The workflow's configuration checked against its JSON schema, with one line per problem.

Snakemake's own ``validate`` prints the whole schema (hundreds of lines) before the reason; the workflow
calls :func:`config_problem` first and stops with its one line, which names the key and the config file
that set it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad._config"):
    import yaml

__all__ = ["config_problem", "reference_problem"]


def config_problem(
    config: Mapping, schema_path: str | os.PathLike, configfiles: Sequence[str | os.PathLike] = ()
) -> str | None:
    """The most relevant schema violation of ``config`` as one line, or None when it is valid.

    Parameters
    ----------
    config : mapping
        The merged configuration (Snakemake's ``config``).
    schema_path : str or os.PathLike
        The JSON schema (YAML) of the configuration.
    configfiles : sequence of str or os.PathLike
        The files the configuration was read from, in the order they were merged; the line names the
        last one that sets the offending key (or, for a missing key, the last one).

    Returns
    -------
    str or None
        E.g. ``config/quick.yaml: unknown top-level key 'modles' (allowed: results, synthetic, ...)``.
    """
    with needs("workflow", "simplexgrad._config"):
        import jsonschema

    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    checked = _with_defaults(copy.deepcopy(dict(config)), schema)
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(checked))
    if error is None:
        return None
    path = [str(part) for part in error.absolute_path]
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        given = error.instance if isinstance(error.instance, Mapping) else {}
        unknown = sorted(key for key in given if key not in allowed)
        where = f"key in '{'.'.join(path)}'" if path else "top-level key"
        source = _source(configfiles, [*path, unknown[0]] if unknown else path)
        return f"{source}: unknown {where} {', '.join(map(repr, unknown))} (allowed: {', '.join(allowed)})"
    key = ".".join(path) or "(top level)"
    return f"{_source(configfiles, path)}: {key}: {error.message}"


def reference_problem(config: Mapping, configfiles: Sequence[str | os.PathLike] = ()) -> str | None:
    """Why the angle-penalty study cannot be compared with its λ = 0 reference, as one line, or None.

    With λ = 0 among its ``strengths`` the study trains its own reference with its own epochs, seeds and
    kernel. Without it the reference is the main study's models, which must have been trained alike: the
    same epoch limit (a study's ``epochs: null`` is ``training.epochs``) and, for CNN-deep, the same
    first-layer kernel. Otherwise the penalty's effect would be confounded with the training budget.

    Parameters
    ----------
    config : mapping
        The merged configuration, valid against the schema.
    configfiles : sequence of str or os.PathLike
        The files it was read from, in the order they were merged; the line names the last that sets
        the study's key.
    """
    study = config["angle_penalty_study"]
    if not study["enabled"] or 0 in study["strengths"]:
        return None
    main_epochs = config["training"]["epochs"]
    epochs = study["epochs"] or main_epochs
    if epochs != main_epochs:
        source = _source(configfiles, ["angle_penalty_study", "epochs"])
        return (
            f"{source}: angle_penalty_study trains for up to {epochs} epochs but its lambda = 0 reference, "
            f"the main study's models, for up to {main_epochs}: add 0 to angle_penalty_study.strengths to "
            "train a reference with the study's own epochs"
        )
    kernels = (study["cnn_deep_first_layer_kernel"], config["models"]["cnn_deep_first_layer_kernel"])
    if "cnn_deep" in study["architectures"] and kernels[0] != kernels[1]:
        source = _source(configfiles, ["angle_penalty_study", "cnn_deep_first_layer_kernel"])
        return (
            f"{source}: angle_penalty_study's CNN-deep has a first-layer kernel of {kernels[0]} but its "
            f"lambda = 0 reference, the main study's, of {kernels[1]}: add 0 to "
            "angle_penalty_study.strengths to train a reference with the study's own kernel"
        )
    return None


def _with_defaults(instance, schema: Mapping):
    """``instance`` with the schema's ``default`` values filled in where keys are missing, as
    Snakemake's ``validate(..., set_default=True)`` does before checking."""
    if isinstance(instance, dict):
        for name, subschema in schema.get("properties", {}).items():
            if name not in instance and "default" in subschema:
                instance[name] = copy.deepcopy(subschema["default"])
            if name in instance:
                instance[name] = _with_defaults(instance[name], subschema)
    return instance


def _source(configfiles: Sequence[str | os.PathLike], path: Sequence[str]) -> str:
    """The last config file that sets ``path`` (else the last file, else 'config')."""
    found = None
    for configfile in configfiles:
        try:
            with open(configfile) as handle:
                node = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError):
            continue
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None or not path:
            found = configfile
    if found is None and configfiles:
        found = configfiles[-1]
    return str(found) if found is not None else "config"
