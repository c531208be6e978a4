# Attribution maps and their evaluation: every method of attribution.methods on the synthetic study's
# models, saliency only on the training studies' models; the tables collected from them.

# Its constants, before the rules (its functions are in common.smk): the methods' files and options, the
# tables collected for the synthetic study and those a training study is summarized from.

# The synthetic study and its null baseline (untrained models): every method, one job per model.
SYNTHETIC_EXPERIMENTS = "synthetic|null"
# The training studies' experiments (e.g. init_study/sigma0.05): per-method rules, saliency only.
TRAINING_STUDY_EXPERIMENTS = "|".join(
    EXPERIMENT_FAMILIES[study] for study in TRAINING_STUDIES
)
TRAINING_STUDY_METHODS = ["saliency"]
# With training.engine ensemble, one job per group instead (the groups train.smk trains: a model type's
# seeds, and in a training study its settings too): `attribute-group` explains every member with every
# method in one JAX program (its GPU) and writes the same per-member maps and evaluation tables.
EVALUATION_TABLES = ("metrics", "angles", "model")


if ENGINE == "single":

    rule attribute_synthetic:
        input:
            model=f"{EXPERIMENT}/models/{RUN}/model.keras",
            data=f"{SYNTHETIC}/data.h5",
        output:
            method_files(f"{EXPERIMENT}/attributions/{RUN}/{{method}}.npz"),
        log:
            f"{LOGS}/{{experiment}}/attribute/{RUN}.log",
        wildcard_constraints:
            experiment=SYNTHETIC_EXPERIMENTS,
        conda:
            "../../envs/model.yaml"
        threads: config["attribution"]["threads"]
        params:
            out_dir=lambda wildcards, output: os.path.dirname(output[0]),
            methods=METHODS,
            num_seqs=config["attribution"]["num_seqs"],
            batch_size=config["attribution"]["batch_size"],
            output=config["attribution"]["output"],
            options=all_methods_options(),
        shell:
            "python -m simplexgrad attribute-methods --model {input.model:q} --data {input.data:q} "
            "--out-dir {params.out_dir:q} --methods {params.methods:q} --split test --positives-only "
            "--num-seqs {params.num_seqs} --batch-size {params.batch_size} --output {params.output} "
            "{params.options} --threads {threads} > {log:q} 2>&1"

    rule evaluate_synthetic:
        input:
            attributions=method_files(f"{EXPERIMENT}/attributions/{RUN}/{{method}}.npz"),
            data=f"{SYNTHETIC}/data.h5",
            classification=f"{EXPERIMENT}/models/{RUN}/metrics.json",
        output:
            method_files(
                f"{EXPERIMENT}/evaluation/{RUN}/{{method}}.{{table}}.tsv",
                table=EVALUATION_TABLES,
            ),
        log:
            f"{LOGS}/{{experiment}}/evaluate/{RUN}.log",
        wildcard_constraints:
            experiment=SYNTHETIC_EXPERIMENTS,
        conda:
            "../../envs/analysis.yaml"
        threads: 1
        params:
            attributions_dir=lambda wildcards, input: os.path.dirname(
                input.attributions[0]
            ),
            out_dir=lambda wildcards, output: os.path.dirname(output[0]),
            methods=METHODS,
            thresholds=config["figures"]["angle_thresholds"],
        shell:
            "python -m simplexgrad evaluate-methods --attributions-dir {params.attributions_dir:q} "
            "--methods {params.methods:q} --data {input.data:q} "
            "--classification {input.classification:q} --labels architecture={wildcards.architecture} "
            "activation={wildcards.activation} seed={wildcards.seed} "
            "--thresholds {params.thresholds} --out-dir {params.out_dir:q} > {log:q} 2>&1"

    rule attribute_training_study:
        input:
            model=f"{EXPERIMENT}/models/{RUN}/model.keras",
            data=f"{SYNTHETIC}/data.h5",
        output:
            f"{EXPERIMENT}/attributions/{RUN}/{{method}}.npz",
        log:
            f"{LOGS}/{{experiment}}/attribute/{RUN}/{{method}}.log",
        wildcard_constraints:
            experiment=TRAINING_STUDY_EXPERIMENTS,
        conda:
            "../../envs/model.yaml"
        threads: config["attribution"]["threads"]
        params:
            num_seqs=config["attribution"]["num_seqs"],
            batch_size=config["attribution"]["batch_size"],
            output=config["attribution"]["output"],
            options=attribution_options,
        shell:
            "python -m simplexgrad attribute --model {input.model:q} --data {input.data:q} --out {output:q} "
            "--method {wildcards.method} --split test --positives-only --num-seqs {params.num_seqs} "
            "--batch-size {params.batch_size} --output {params.output} {params.options} "
            "--threads {threads} > {log:q} 2>&1"

    rule evaluate_training_study:
        input:
            attributions=f"{EXPERIMENT}/attributions/{RUN}/{{method}}.npz",
            data=f"{SYNTHETIC}/data.h5",
            classification=f"{EXPERIMENT}/models/{RUN}/metrics.json",
        output:
            metrics=f"{EXPERIMENT}/evaluation/{RUN}/{{method}}.metrics.tsv",
            angles=f"{EXPERIMENT}/evaluation/{RUN}/{{method}}.angles.tsv",
            model=f"{EXPERIMENT}/evaluation/{RUN}/{{method}}.model.tsv",
        log:
            f"{LOGS}/{{experiment}}/evaluate/{RUN}/{{method}}.log",
        wildcard_constraints:
            experiment=TRAINING_STUDY_EXPERIMENTS,
        conda:
            "../../envs/analysis.yaml"
        threads: 1
        params:
            thresholds=config["figures"]["angle_thresholds"],
        shell:
            "python -m simplexgrad evaluate --attributions {input.attributions:q} --data {input.data:q} "
            "--classification {input.classification:q} --labels architecture={wildcards.architecture} "
            "activation={wildcards.activation} seed={wildcards.seed} "
            "--thresholds {params.thresholds} --out-metrics {output.metrics:q} "
            "--out-angles {output.angles:q} --out-model {output.model:q} > {log:q} 2>&1"

else:

    for family in ("synthetic", *TRAINING_STUDIES):
        group_methods = METHODS if family == "synthetic" else TRAINING_STUDY_METHODS

        rule:
            name:
                f"attribute_{family}_group"
            input:
                models=member_files(family, f"{EXPERIMENT}/models/{RUN}/model.keras"),
                classification=member_files(
                    family, f"{EXPERIMENT}/models/{RUN}/metrics.json"
                ),
                data=f"{SYNTHETIC}/data.h5",
            output:
                attributions=member_files(
                    family,
                    expand(
                        f"{EXPERIMENT}/attributions/{RUN}/{{method}}.npz",
                        method=group_methods,
                        allow_missing=True,
                    ),
                ),
                evaluation=member_files(
                    family,
                    expand(
                        f"{EXPERIMENT}/evaluation/{RUN}/{{method}}.{{table}}.tsv",
                        method=group_methods,
                        table=EVALUATION_TABLES,
                        allow_missing=True,
                    ),
                ),
            log:
                f"{LOGS}/{group_folder(family)}/attribute/{{architecture}}_{{activation}}.log",
            wildcard_constraints:
                experiment=(
                    SYNTHETIC_EXPERIMENTS
                    if family == "synthetic"
                    else EXPERIMENT_FAMILIES[family]
                ),
            conda:
                "../../envs/model.yaml"
            threads: config["attribution"]["threads"]
            params:
                models=group_template(family, "models"),
                attributions=group_template(family, "attributions"),
                evaluation=group_template(family, "evaluation"),
                seeds=SEED_FAMILIES[family],
                settings=group_settings(family),
                methods=group_methods,
                num_seqs=config["attribution"]["num_seqs"],
                batch_size=config["attribution"]["batch_size"],
                output=config["attribution"]["output"],
                options=all_methods_options(group_methods),
                labels=group_labels,
                thresholds=config["figures"]["angle_thresholds"],
            shell:
                "KERAS_BACKEND=jax python -m simplexgrad attribute-group --data {input.data:q} "
                "--models-template {params.models:q} --attributions-template {params.attributions:q} "
                "--evaluation-template {params.evaluation:q} --methods {params.methods:q} "
                "--seeds {params.seeds} {params.settings} --split test --positives-only "
                "--num-seqs {params.num_seqs} --batch-size {params.batch_size} --output {params.output} "
                "{params.options} --labels {params.labels:q} --thresholds {params.thresholds} "
                "--threads {threads} > {log:q} 2>&1"


rule collect_synthetic:
    input:
        synthetic_evaluations,
    output:
        f"{EXPERIMENT}/{{table}}.tsv",
    log:
        f"{LOGS}/{{experiment}}/collect_{{table}}.log",
    wildcard_constraints:
        experiment=SYNTHETIC_EXPERIMENTS,
        table="metrics|angles",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    shell:
        "python -m simplexgrad collect --out {output:q} --tables {input:q} > {log:q} 2>&1"


rule summarize_synthetic:
    input:
        f"{SYNTHETIC}/metrics.tsv",
    output:
        report(
            f"{SYNTHETIC}/summary.tsv",
            caption="../report/summary.rst",
            category="Synthetic study",
            subcategory="Tables",
        ),
    log:
        f"{LOGS}/synthetic/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    shell:
        "python -m simplexgrad summarize --metrics {input:q} --out {output:q} > {log:q} 2>&1"


rule summarize_training_study:
    input:
        study=training_study_tables,
        reference=training_study_reference,
    output:
        models=report(
            f"{RESULTS}/{{study}}/summary.tsv",
            caption="../report/training_study_tables.rst",
            category="Training studies",
            subcategory="Tables",
            labels={"study": "{study}", "table": "one row per model"},
        ),
        settings=report(
            f"{RESULTS}/{{study}}/settings.tsv",
            caption="../report/training_study_tables.rst",
            category="Training studies",
            subcategory="Tables",
            labels={"study": "{study}", "table": "one row per setting"},
        ),
    log:
        f"{LOGS}/{{study}}/summary.log",
    wildcard_constraints:
        study="|".join(TRAINING_STUDIES),
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    params:
        parameter=lambda wildcards: TRAINING_STUDIES[wildcards.study]["option"],
        reference=lambda wildcards, input: cli_options(
            {"reference": list(input.reference)}
        ),
    shell:
        "python -m simplexgrad summarize-study --tables {input.study:q} {params.reference} "
        "--parameter {params.parameter} --out {output.models:q} --out-settings {output.settings:q} "
        "> {log:q} 2>&1"
