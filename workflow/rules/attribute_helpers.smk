# The helpers of attribute.smk: the methods' files and options, the tables collected for the synthetic
# study and those a training study is summarized from.

# The training studies' experiments (e.g. init_study/sigma0.05): per-method rules, saliency only.
TRAINING_STUDY_EXPERIMENTS = "|".join(
    EXPERIMENT_FAMILIES[study] for study in TRAINING_STUDIES
)
EVALUATION_TABLES = ("metrics", "angles", "model")


def method_files(pattern, **values):
    """`pattern` for every method of attribution.methods (and the other `values`), its wildcards kept."""
    return expand(pattern, method=METHODS, **values, allow_missing=True)


def method_settings(method):
    """A method's own options: the config's seed (for seeded methods) and the config's overrides."""
    settings = config["attribution"]
    seeded = "seed" in method_options(method)
    return ({"seed": settings["seed"]} if seeded else {}) | settings.get(method, {})


def attribution_options(wildcards):
    """The options of the method in the wildcards, for `simplexgrad attribute`."""
    return cli_options(method_settings(wildcards.method))


def all_methods_options():
    """Every method's options as `--options METHOD.NAME=VALUE ...`, for `simplexgrad attribute-methods`."""
    return cli_options(
        {
            "options": [
                f"{method}.{name}={value}"
                for method in sorted(METHODS)
                for name, value in sorted(method_settings(method).items())
            ]
        }
    )


def synthetic_evaluations(wildcards):
    """Per-run evaluation tables of one kind (metrics or angles) for every method."""
    return expand(
        synthetic_runs(
            f"{SYNTHETIC}/evaluation/{RUN}/{{method}}.{wildcards.table}.tsv"
        ),
        method=METHODS,
    )


def study_settings(study):
    """The experiments of a training study, one per setting (e.g. init_study/sigma0.05)."""
    spec = TRAINING_STUDIES[study]
    return [
        f"{study}/{spec['prefix']}{value:g}" for value in config[study][spec["values"]]
    ]


def study_models(study, pattern):
    """`pattern` (with {experiment}) for every setting, model type and seed of a training study."""
    settings = config[study]
    return expand(
        pattern,
        experiment=study_settings(study),
        architecture=settings["architectures"],
        activation=settings["activations"],
        seed=SEED_FAMILIES[study],
    )


def training_study_tables(wildcards):
    return study_models(
        wildcards.study, f"{EXPERIMENT}/evaluation/{RUN}/saliency.model.tsv"
    )


def training_study_reference(wildcards):
    """The main study's models without the studied option (λ = 0), as the angle penalty's reference."""
    if wildcards.study != "angle_penalty_study":
        return []
    settings = config[wildcards.study]
    seeds = [
        seed
        for seed in SEEDS
        if seed < config["models"]["first_seed"] + settings["num_seeds"]
    ]
    return expand(
        f"{SYNTHETIC}/evaluation/{RUN}/saliency.model.tsv",
        architecture=[a for a in settings["architectures"] if a in ARCHITECTURES],
        activation=[a for a in settings["activations"] if a in ACTIVATIONS],
        seed=seeds,
    )
