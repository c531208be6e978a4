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

__all__ = ["config_problem"]


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
