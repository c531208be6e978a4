# Models on the synthetic data: the main study (experiment "synthetic"), its null baseline (experiment
# "null": the same models built and seeded, never trained; one quick job each) and the two training studies
# (experiments "init_study/sigma<σ>" and "angle_penalty_study/lambda<λ>", whose setting is a training
# option), and the in vivo ensemble members. training.engine "single" trains one model per job with
# TensorFlow; "ensemble" trains every member of one architecture and shape in one JAX program, one job
# per group (all seeds of a model type; in a training study, every setting and seed of a model type, the
# settings as --init-stddevs or --angle-penalties; in vivo, all repeats of a filter size). The profiles
# give every training rule its GPU, as they give every rule its memory and run time.

# Its constants, before the rules (its functions are in common.smk): the recipe and options of a model's
# training command and the seeds of the in vivo members.
MODEL_FILES = {
    "model": "model.keras",
    "history": "history.tsv",
    "metrics": "metrics.json",
}
RECIPE = {
    key: value
    for key, value in config["training"].items()
    if key not in ("threads", "engine")
}


rule untrained_synthetic:
    input:
        data=f"{SYNTHETIC}/data.h5",
    output:
        model=f"{NULL}/models/{RUN}/model.keras",
        history=f"{NULL}/models/{RUN}/history.tsv",
        metrics=f"{NULL}/models/{RUN}/metrics.json",
    log:
        f"{LOGS}/null/untrained/{RUN}.log",
    conda:
        "../../envs/model.yaml"
    threads: config["training"]["threads"]
    params:
        out=lambda wildcards, output: os.path.dirname(output.model),
        recipe=lambda wildcards: cli_options(
            training_options("synthetic", wildcards.architecture)
        ),
    shell:
        "python -m simplexgrad untrained --data {input.data:q} --out {params.out:q} "
        "--architecture {wildcards.architecture} --activation {wildcards.activation} "
        "--seed {wildcards.seed} {params.recipe} --threads {threads} > {log:q} 2>&1"


if ENGINE == "single":

    rule train_synthetic:
        input:
            data=f"{SYNTHETIC}/data.h5",
        output:
            model=f"{EXPERIMENT}/models/{RUN}/model.keras",
            history=f"{EXPERIMENT}/models/{RUN}/history.tsv",
            metrics=f"{EXPERIMENT}/models/{RUN}/metrics.json",
        log:
            f"{LOGS}/{{experiment}}/train/{RUN}.log",
        conda:
            "../../envs/model.yaml"
        threads: config["training"]["threads"]
        params:
            out=lambda wildcards, output: os.path.dirname(output.model),
            recipe=lambda wildcards: cli_options(
                training_options(wildcards.experiment, wildcards.architecture)
            ),
        shell:
            "python -m simplexgrad train --data {input.data:q} --out {params.out:q} "
            "--architecture {wildcards.architecture} --activation {wildcards.activation} "
            "--seed {wildcards.seed} {params.recipe} --threads {threads} > {log:q} 2>&1"

    rule train_invivo:
        input:
            data=f"{ENCODE}/{{tf}}.h5",
        output:
            model=f"{INVIVO}/{{tf}}/models/{MEMBER}/model.keras",
            history=f"{INVIVO}/{{tf}}/models/{MEMBER}/history.tsv",
            metrics=f"{INVIVO}/{{tf}}/models/{MEMBER}/metrics.json",
        log:
            f"{LOGS}/invivo/train/{{tf}}/{MEMBER}.log",
        conda:
            "../../envs/model.yaml"
        threads: config["training"]["threads"]
        params:
            out=lambda wildcards, output: os.path.dirname(output.model),
            recipe=lambda wildcards: cli_options(
                RECIPE | kernel_option("invivo", wildcards.architecture)
            ),
            seed=lambda wildcards: invivo_seed(wildcards.filters, wildcards.repeat),
        shell:
            "python -m simplexgrad train --data {input.data:q} --out {params.out:q} "
            "--architecture {wildcards.architecture} --activation {wildcards.activation} "
            "--first-layer-filters {wildcards.filters} --seed {params.seed} {params.recipe} "
            "--threads {threads} > {log:q} 2>&1"

else:

    for family in SEED_FAMILIES:

        rule:
            name:
                f"train_{family}_group"
            input:
                data=f"{SYNTHETIC}/data.h5",
            output:
                **{
                    key: member_files(family, f"{EXPERIMENT}/models/{RUN}/{name}")
                    for key, name in MODEL_FILES.items()
                },
            log:
                f"{LOGS}/{group_folder(family)}/train/{{architecture}}_{{activation}}.log",
            wildcard_constraints:
                experiment=EXPERIMENT_FAMILIES[family],
            conda:
                "../../envs/model.yaml"
            threads: config["training"]["threads"]
            params:
                template=group_template(family, "models"),
                seeds=SEED_FAMILIES[family],
                recipe=group_recipe(family),
            shell:
                "KERAS_BACKEND=jax python -m simplexgrad train-ensemble --data {input.data:q} "
                "--out-template {params.template:q} --architecture {wildcards.architecture} "
                "--activation {wildcards.activation} --seeds {params.seeds} {params.recipe} "
                "--threads {threads} > {log:q} 2>&1"

    rule train_invivo_group:
        input:
            data=f"{ENCODE}/{{tf}}.h5",
        output:
            **{
                key: expand(
                    f"{INVIVO}/{{{{tf}}}}/models/{{{{architecture}}}}_{{{{activation}}}}/filters{{{{filters}}}}/repeat{{repeat}}/{name}",
                    repeat=range(config["invivo"]["repeats"]),
                )
                for key, name in MODEL_FILES.items()
            },
        log:
            f"{LOGS}/invivo/train/{{tf}}/{{architecture}}_{{activation}}/filters{{filters}}.log",
        conda:
            "../../envs/model.yaml"
        threads: config["training"]["threads"]
        params:
            template=lambda wildcards, output: member_template(
                output.model[0], "repeat{index}"
            ),
            seeds=lambda wildcards: [
                invivo_seed(wildcards.filters, repeat)
                for repeat in range(config["invivo"]["repeats"])
            ],
            recipe=lambda wildcards: cli_options(
                RECIPE | kernel_option("invivo", wildcards.architecture)
            ),
        shell:
            "KERAS_BACKEND=jax python -m simplexgrad train-ensemble --data {input.data:q} "
            "--out-template {params.template:q} --architecture {wildcards.architecture} "
            "--activation {wildcards.activation} --first-layer-filters {wildcards.filters} "
            "--seeds {params.seeds} {params.recipe} --threads {threads} > {log:q} 2>&1"
