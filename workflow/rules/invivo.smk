# The in vivo study: per TF and model type an ensemble of members (first-layer filters x repeats, each its
# own seed) trained on the TF's dataset, their saliency on the positive test sequences, the ensemble
# analysis and the figures.

# Its constants, before the rules (its functions are in common.smk): the files of an ensemble analysis, the
# tables and figures drawn from them.
INVIVO_FIGURES = f"{INVIVO}/figures"
ENSEMBLE_OUTPUTS = {
    "differences": "tsv",
    "angles": "tsv",
    "angle_histogram": "tsv",
    "sequence_angles": "tsv",
    "classification": "tsv",
    "ensemble": "npz",
}
INVIVO_TABLES = {  # collected table -> the per-ensemble file it concatenates
    "ensemble_difference": "differences",
    "angles": "angles",
    "classification": "classification",
}
INVIVO_MODEL_FIGURES = {  # figure -> {option of its subcommand: per-ensemble table}
    "fig3e_ensemble_difference": {
        "histograms": "angle_histogram",
        "differences": "differences",
    },
    "appfig10_ensemble_angles": {"histograms": "angle_histogram"},
    "fig4b_invivo_large_angles": {"sequence_angles": "sequence_angles"},
    "invivo_large_angle_histograms": {"sequence_angles": "sequence_angles"},
}


INVIVO_FIGURE_REFERENCES = {  # figure -> {option of its subcommand: input function}
    "fig4b_invivo_large_angles": {"synthetic_angles": synthetic_reference},
}


rule attribute_invivo:
    input:
        model=f"{INVIVO}/{{tf}}/models/{MEMBER}/model.keras",
        data=f"{ENCODE}/{{tf}}.h5",
    output:
        f"{INVIVO}/{{tf}}/saliency/{MEMBER}.npz",
    log:
        f"{LOGS}/invivo/attribute/{{tf}}/{MEMBER}.log",
    conda:
        "../../envs/model.yaml"
    threads: config["attribution"]["threads"]
    params:
        selection=cli_options(
            {"num_seqs": config["invivo"]["num_seqs"]}
            if config["invivo"]["num_seqs"]
            else {}
        ),
        batch_size=config["attribution"]["batch_size"],
    shell:
        "python -m simplexgrad attribute --model {input.model:q} --data {input.data:q} --out {output:q} "
        "--method saliency --split test --positives-only {params.selection} "
        "--batch-size {params.batch_size} --output probability --threads {threads} > {log:q} 2>&1"


rule invivo_ensemble:
    input:
        members=invivo_members(f"{INVIVO}/{{tf}}/models/{MEMBER}/model.keras"),
        maps=invivo_members(f"{INVIVO}/{{tf}}/saliency/{MEMBER}.npz"),
        data=f"{ENCODE}/{{tf}}.h5",
    output:
        **{
            name: f"{INVIVO}/{{tf}}/ensembles/{{architecture}}_{{activation}}/{name}.{ext}"
            for name, ext in ENSEMBLE_OUTPUTS.items()
        },
    log:
        f"{LOGS}/invivo/ensemble/{{tf}}/{{architecture}}_{{activation}}.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    params:
        members=lambda wildcards, input: [
            os.path.dirname(path) for path in input.members
        ],
        out=lambda wildcards, output: os.path.dirname(output.ensemble),
        thresholds=config["figures"]["angle_thresholds"],
        bins=config["invivo"]["angle_bins"],
    shell:
        "python -m simplexgrad invivo-ensemble --members {params.members:q} --attributions {input.maps:q} "
        "--data {input.data:q} --out-dir {params.out:q} --thresholds {params.thresholds} "
        "--angle-bins {params.bins} "
        "--labels tf={wildcards.tf} architecture={wildcards.architecture} "
        "activation={wildcards.activation} > {log:q} 2>&1"


rule collect_invivo:
    input:
        lambda wildcards: invivo_ensembles(f"{INVIVO_TABLES[wildcards.table]}.tsv")(
            wildcards
        ),
    output:
        report(
            f"{INVIVO}/{{table}}.tsv",
            caption="../report/invivo_tables.rst",
            category="In vivo study",
            subcategory="Tables",
            labels={"table": "{table}"},
        ),
    log:
        f"{LOGS}/invivo/collect_{{table}}.log",
    wildcard_constraints:
        table="|".join(INVIVO_TABLES),
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    shell:
        "python -m simplexgrad collect --out {output:q} --tables {input:q} > {log:q} 2>&1"


rule fig3b_invivo_patch:
    input:
        member=lambda wildcards: invivo_members(
            f"{INVIVO}/{{tf}}/saliency/{MEMBER}.npz"
        )({**INVIVO_FIGURE_MODEL, "tf": wildcards.tf})[0],
        ensemble=expand(
            f"{INVIVO}/{{{{tf}}}}/ensembles/{{architecture}}_{{activation}}/ensemble.npz",
            **INVIVO_FIGURE_MODEL,
        ),
    output:
        pdf=f"{INVIVO_FIGURES}/fig3b_invivo_patch_{{tf}}.pdf",
        png=report(
            f"{INVIVO_FIGURES}/fig3b_invivo_patch_{{tf}}.png",
            caption="../report/fig3b_invivo_patch.rst",
            category="In vivo study",
            subcategory="Fig 3b and App. Fig 7: sequence patches",
            labels={"tf": "{tf}"},
        ),
    log:
        f"{LOGS}/invivo/figures/fig3b_invivo_patch_{{tf}}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    params:
        model=cli_options(INVIVO_FIGURE_MODEL),
        patch=cli_options(config["invivo"]["patch"]),
    shell:
        "python -m simplexgrad figure fig3b_invivo_patch --member {input.member:q} --ensemble {input.ensemble:q} "
        "--tf {wildcards.tf:q} {params.model} {params.patch} "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


for figure, tables in INVIVO_MODEL_FIGURES.items():

    rule:
        name:
            figure
        input:
            **{
                option: invivo_ensembles(f"{table}.tsv", per_model_type=True)
                for option, table in tables.items()
            },
            **INVIVO_FIGURE_REFERENCES.get(figure, {}),
        output:
            pdf=f"{INVIVO_FIGURES}/{figure}_{{architecture}}_{{activation}}.pdf",
            png=report(
                f"{INVIVO_FIGURES}/{figure}_{{architecture}}_{{activation}}.png",
                caption=f"../report/{figure}.rst",
                category="In vivo study",
                subcategory="Figs 3e, 4b and App. Figs 9, 10, 13: angles and ensembles",
                labels={"figure": figure, "model": "{architecture}_{activation}"},
            ),
        log:
            f"{LOGS}/invivo/figures/{figure}_{{architecture}}_{{activation}}.log",
        conda:
            "../../envs/analysis.yaml"
        threads: 1
        params:
            figure=figure,
            tables=lambda wildcards, input: cli_options(
                {name: list(input[name]) for name in input.keys()}
            ),
        shell:
            "python -m simplexgrad figure {params.figure} {params.tables} --architecture {wildcards.architecture} "
            "--activation {wildcards.activation} "
            "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"
