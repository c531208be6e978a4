# One rule per figure, named as the figure (its file stem, `simplexgrad figure` subcommand, plotting
# function and caption file carry the same name). Figures of the same shape are defined in one loop.

# Its constants, before the rules (its functions are in common.smk): the figures of the synthetic study and of
# the training studies.

# Figures drawn from the synthetic metrics table, one per method, and from every seed of one model.
METRIC_FIGURES = ("fig2_interpretability", "fig2_correction")
MODEL_FIGURES = ("fig3c_motif_angles", "fig3d_background_angles")
STUDY_FIGURES = {
    "init_study": "fig4c_init_study",
    "angle_penalty_study": "fig4d_angle_penalty",
}
STUDY_APPENDIX_FIGURES = {
    "init_study": "appfig14_init_study",
    "angle_penalty_study": "appfig15_angle_penalty",
}


for figure in METRIC_FIGURES:

    rule:
        name:
            figure
        input:
            f"{SYNTHETIC}/metrics.tsv",
        output:
            pdf=f"{FIGURES}/{figure}_{{method}}.pdf",
            png=report(
                f"{FIGURES}/{figure}_{{method}}.png",
                caption=f"../report/{figure}.rst",
                category="Synthetic study",
                subcategory="Fig 2 and App. Fig 5: interpretability",
                labels={"figure": figure, "method": "{method}"},
            ),
        log:
            f"{LOGS}/synthetic/figures/{figure}_{{method}}.log",
        conda:
            "../../envs/analysis.yaml"
        threads: 1
        params:
            figure=figure,
        shell:
            "python -m simplexgrad figure {params.figure} --metrics {input:q} --method {wildcards.method} "
            "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


rule fig3a_patch:
    input:
        attributions=f"{SYNTHETIC}/attributions/{{architecture}}_{{activation}}/seed{SEEDS[0]}/saliency.npz",
        data=f"{SYNTHETIC}/data.h5",
    output:
        pdf=f"{FIGURES}/fig3a_patch_{{architecture}}_{{activation}}.pdf",
        png=report(
            f"{FIGURES}/fig3a_patch_{{architecture}}_{{activation}}.png",
            caption="../report/fig3a_patch.rst",
            category="Synthetic study",
            subcategory="Fig 3a and App. Fig 6: sequence patches",
            labels={"model": "{architecture}_{activation}"},
        ),
    log:
        f"{LOGS}/synthetic/figures/fig3a_patch_{{architecture}}_{{activation}}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    params:
        sequence=config["figures"]["patch"]["sequence"],
        width=config["figures"]["patch"]["width"],
    shell:
        "python -m simplexgrad figure fig3a_patch --attributions {input.attributions:q} --data {input.data:q} "
        "--architecture {wildcards.architecture} --activation {wildcards.activation} "
        "--sequence {params.sequence} --width {params.width} "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


for figure in MODEL_FIGURES:

    rule:
        name:
            figure
        input:
            attributions=seeds_of_model,
            data=f"{SYNTHETIC}/data.h5",
        output:
            pdf=f"{FIGURES}/{figure}_{{architecture}}_{{activation}}.pdf",
            png=report(
                f"{FIGURES}/{figure}_{{architecture}}_{{activation}}.png",
                caption=f"../report/{figure}.rst",
                category="Synthetic study",
                subcategory="Fig 3c/d and App. Fig 8: angles, all seeds",
                labels={"figure": figure, "model": "{architecture}_{activation}"},
            ),
        log:
            f"{LOGS}/synthetic/figures/{figure}_{{architecture}}_{{activation}}.log",
        conda:
            "../../envs/analysis.yaml"
        threads: 1
        params:
            figure=figure,
        shell:
            "python -m simplexgrad figure {params.figure} --attributions {input.attributions:q} --data {input.data:q} "
            "--architecture {wildcards.architecture} --activation {wildcards.activation} "
            "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


rule fig4a_large_angles:
    input:
        f"{SYNTHETIC}/angles.tsv",
    output:
        pdf=f"{FIGURES}/fig4a_large_angles.pdf",
        png=report(
            f"{FIGURES}/fig4a_large_angles.png",
            caption="../report/fig4a_large_angles.rst",
            category="Synthetic study",
            subcategory="Fig 4a and App. Fig 12: large angles",
        ),
    log:
        f"{LOGS}/synthetic/figures/fig4a_large_angles.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    shell:
        "python -m simplexgrad figure fig4a_large_angles --angles {input:q} --method saliency "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


for study in TRAINING_STUDIES:
    for figure in (STUDY_FIGURES[study], STUDY_APPENDIX_FIGURES[study]):

        rule:
            name:
                figure
            input:
                f"{RESULTS}/{study}/summary.tsv",
            output:
                pdf=f"{RESULTS}/{study}/figures/{figure}.pdf",
                png=report(
                    f"{RESULTS}/{study}/figures/{figure}.png",
                    caption=f"../report/{figure}.rst",
                    category="Training studies",
                    subcategory="Figs 4c/d and App. Figs 14/15",
                ),
            log:
                f"{LOGS}/{study}/figures/{figure}.log",
            conda:
                "../../envs/analysis.yaml"
            threads: 1
            params:
                figure=figure,
            shell:
                "python -m simplexgrad figure {params.figure} --summary {input:q} "
                "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"
