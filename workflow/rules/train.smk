rule train_synthetic:
    input:
        data=f"{SYNTHETIC}/data.h5",
    output:
        model=f"{SYNTHETIC}/models/{RUN}/model.keras",
        history=f"{SYNTHETIC}/models/{RUN}/history.tsv",
        metrics=f"{SYNTHETIC}/models/{RUN}/metrics.json",
    log:
        f"{LOGS}/synthetic/train/{RUN}.log",
    conda:
        "../../envs/model.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,
    params:
        cli=CLI,
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
        epochs=config["training"]["epochs"],
        patience=config["training"]["patience"],
        lr_patience=config["training"]["lr_patience"],
        batch_size=config["training"]["batch_size"],
        learning_rate=config["training"]["learning_rate"],
    shell:
        "{params.cli} train --data {input.data:q} --out {params.out_dir:q} "
        "--model {wildcards.architecture} --activation {wildcards.activation} "
        "--seed {wildcards.seed} --epochs {params.epochs} --patience {params.patience} "
        "--lr-patience {params.lr_patience} --batch-size {params.batch_size} "
        "--learning-rate {params.learning_rate} --threads {threads} > {log:q} 2>&1"
