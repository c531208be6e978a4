FIGURES = f"{SYNTHETIC}/figures"


rule figure_interpretability:
    input:
        f"{SYNTHETIC}/metrics.tsv",
    output:
        pdf=f"{FIGURES}/fig2_interpretability_{{method}}.pdf",
        png=report(
            f"{FIGURES}/fig2_interpretability_{{method}}.png",
            caption="../report/fig2_interpretability.rst",
            category="Synthetic study",
            subcategory="Fig 2a-c: classification vs interpretability",
            labels={"method": "{method}"},
        ),
    log:
        f"{LOGS}/synthetic/figures/fig2_interpretability_{{method}}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cli=CLI,
    shell:
        "{params.cli} figure fig2-scatter --metrics {input:q} --method {wildcards.method} "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


rule figure_correction:
    input:
        f"{SYNTHETIC}/metrics.tsv",
    output:
        pdf=f"{FIGURES}/fig2_correction_{{method}}.pdf",
        png=report(
            f"{FIGURES}/fig2_correction_{{method}}.png",
            caption="../report/fig2_correction.rst",
            category="Synthetic study",
            subcategory="Fig 2d-f and appendix Fig 5: before vs after correction",
            labels={"method": "{method}"},
        ),
    log:
        f"{LOGS}/synthetic/figures/fig2_correction_{{method}}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cli=CLI,
    shell:
        "{params.cli} figure fig2-correction --metrics {input:q} --method {wildcards.method} "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


rule figure_patch:
    input:
        attributions=f"{SYNTHETIC}/attributions/{representative_run()}/saliency.npz",
        data=f"{SYNTHETIC}/data.h5",
    output:
        pdf=f"{FIGURES}/fig3a_patch.pdf",
        png=report(
            f"{FIGURES}/fig3a_patch.png",
            caption="../report/fig3a_patch.rst",
            category="Synthetic study",
            subcategory="Fig 3: angles",
        ),
    log:
        f"{LOGS}/synthetic/figures/fig3a_patch.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cli=CLI,
        sequence=config["figures"]["patch"]["sequence"],
        width=config["figures"]["patch"]["width"],
    shell:
        "{params.cli} figure fig3a-patch --attributions {input.attributions:q} "
        "--data {input.data:q} --sequence {params.sequence} --width {params.width} "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


rule figure_motif_angles:
    input:
        attributions=f"{SYNTHETIC}/attributions/{representative_run()}/saliency.npz",
        data=f"{SYNTHETIC}/data.h5",
    output:
        pdf=f"{FIGURES}/fig3c_motif_angles.pdf",
        png=report(
            f"{FIGURES}/fig3c_motif_angles.png",
            caption="../report/fig3c_motif_angles.rst",
            category="Synthetic study",
            subcategory="Fig 3: angles",
        ),
    log:
        f"{LOGS}/synthetic/figures/fig3c_motif_angles.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cli=CLI,
        name=representative_name(),
    shell:
        "{params.cli} figure fig3c-motif --attributions {input.attributions:q} "
        "--data {input.data:q} --model-name {params.name:q} "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


rule figure_background_angles:
    input:
        attributions=f"{SYNTHETIC}/attributions/{representative_run()}/saliency.npz",
        data=f"{SYNTHETIC}/data.h5",
    output:
        pdf=f"{FIGURES}/fig3d_background_angles.pdf",
        png=report(
            f"{FIGURES}/fig3d_background_angles.png",
            caption="../report/fig3d_background_angles.rst",
            category="Synthetic study",
            subcategory="Fig 3: angles",
        ),
    log:
        f"{LOGS}/synthetic/figures/fig3d_background_angles.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cli=CLI,
        name=representative_name(),
    shell:
        "{params.cli} figure fig3d-background --attributions {input.attributions:q} "
        "--data {input.data:q} --model-name {params.name:q} "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"


rule figure_large_angles:
    input:
        f"{SYNTHETIC}/angles.tsv",
    output:
        pdf=f"{FIGURES}/fig4a_large_angles.pdf",
        png=report(
            f"{FIGURES}/fig4a_large_angles.png",
            caption="../report/fig4a_large_angles.rst",
            category="Synthetic study",
            subcategory="Fig 4: large angles",
        ),
    log:
        f"{LOGS}/synthetic/figures/fig4a_large_angles.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cli=CLI,
    shell:
        "{params.cli} figure fig4a --angles {input:q} --method saliency "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"
