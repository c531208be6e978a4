rule synthetic_data:
    input:
        background=(
            [workflow_file(config["synthetic"]["background_ids"])]
            if config["synthetic"]["background_ids"]
            else []
        ),
    output:
        f"{SYNTHETIC}/data.h5",
    log:
        f"{LOGS}/synthetic/data.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    params:
        options=cli_options(
            {k: v for k, v in config["synthetic"].items() if k != "background_ids"}
        ),
        background=lambda wildcards, input: (
            cli_options({"background_table": list(input.background)})
            if input.background
            else ""
        ),
    shell:
        "python -m simplexgrad synthetic --out {output:q} {params.options} {params.background} > {log:q} 2>&1"
