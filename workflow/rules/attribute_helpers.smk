# The helpers of attribute.smk: a method's options, the tables collected for the synthetic study and those
# a training study is summarized from.


def attribution_options(wildcards):
    """The method's own options: the config's seed (for seeded methods) and the config's overrides."""
    settings = config["attribution"]
    seeded = "seed" in method_options(wildcards.method)
    return cli_options(
        ({"seed": settings["seed"]} if seeded else {})
        | settings.get(wildcards.method, {})
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
