# synthetic.background_ids: "published" (the table shipped with the library), "draw" or a TSV of IDs.
BACKGROUND_KEYWORDS = ("published", "draw")


rule synthetic_data:
    input:
        background=(
            []
            if config["synthetic"]["background_ids"] in BACKGROUND_KEYWORDS
            else [workflow_file(config["synthetic"]["background_ids"])]
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
        background=lambda wildcards, input: cli_options(
            {
                "background_table": (
                    list(input.background) or config["synthetic"]["background_ids"]
                )
            }
        ),
    shell:
        "python -m simplexgrad synthetic --out {output:q} {params.options} {params.background} > {log:q} 2>&1"
