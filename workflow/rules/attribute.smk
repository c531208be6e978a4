rule attribute_synthetic:
    input:
        model=f"{SYNTHETIC}/models/{RUN}/model.keras",
        data=f"{SYNTHETIC}/data.h5",
    output:
        f"{SYNTHETIC}/attributions/{RUN}/{{method}}.npz",
    log:
        f"{LOGS}/synthetic/attribute/{RUN}/{{method}}.log",
    conda:
        "../../envs/model.yaml"
    threads: config["attribution"]["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        cli=CLI,
        num_seqs=config["attribution"]["num_seqs"],
        batch_size=config["attribution"]["batch_size"],
        seed=config["attribution"]["seed"],
        output=config["attribution"]["output"],
        options=attribution_options,
    shell:
        "{params.cli} attribute --model {input.model:q} --data {input.data:q} --out {output:q} "
        "--method {wildcards.method} --split test --positives-only --num-seqs {params.num_seqs} "
        "--batch-size {params.batch_size} --seed {params.seed} --output {params.output} "
        "--threads {threads} {params.options:q} > {log:q} 2>&1"


rule evaluate_synthetic:
    input:
        attributions=f"{SYNTHETIC}/attributions/{RUN}/{{method}}.npz",
        data=f"{SYNTHETIC}/data.h5",
        classification=f"{SYNTHETIC}/models/{RUN}/metrics.json",
    output:
        metrics=f"{SYNTHETIC}/evaluation/{RUN}/{{method}}.metrics.tsv",
        angles=f"{SYNTHETIC}/evaluation/{RUN}/{{method}}.angles.tsv",
    log:
        f"{LOGS}/synthetic/evaluate/{RUN}/{{method}}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cli=CLI,
        thresholds=config["figures"]["angle_thresholds"],
    shell:
        "{params.cli} evaluate --attributions {input.attributions:q} --data {input.data:q} "
        "--classification {input.classification:q} --label model={wildcards.architecture} "
        "--label activation={wildcards.activation} --label seed={wildcards.seed} "
        "--thresholds {params.thresholds} --out-metrics {output.metrics:q} "
        "--out-angles {output.angles:q} > {log:q} 2>&1"


rule collect_synthetic_metrics:
    input:
        synthetic_evaluations("metrics"),
    output:
        f"{SYNTHETIC}/metrics.tsv",
    log:
        f"{LOGS}/synthetic/collect_metrics.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cli=CLI,
    shell:
        "{params.cli} collect --out {output:q} {input:q} > {log:q} 2>&1"


rule collect_synthetic_angles:
    input:
        synthetic_evaluations("angles"),
    output:
        f"{SYNTHETIC}/angles.tsv",
    log:
        f"{LOGS}/synthetic/collect_angles.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        cli=CLI,
    shell:
        "{params.cli} collect --out {output:q} {input:q} > {log:q} 2>&1"


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
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cli=CLI,
    shell:
        "{params.cli} summarize --metrics {input:q} --out {output:q} > {log:q} 2>&1"
