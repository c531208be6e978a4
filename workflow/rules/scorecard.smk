# The paper's claims (resources/paper_claims.tsv) against this run: one verdict per claim. The claims of a
# study that this configuration leaves out are scored "not run at this configuration", never dropped.
# Its params depend on the configuration only, not on how Snakemake was called (e.g. which --configfile
# names were given), so another invocation of the same study plans no rerun.

# The helpers, before the rules: the claims file, where the models trained, and the run's tables.
SCORECARD_CLAIMS = workflow_file("resources/paper_claims.tsv")
# The GPU epoch-time claim is scored only when the models trained on a GPU: the ensemble engine with a GPU
# that JAX sees (resolve_engine imports JAX only for the ensemble engine).
SCORECARD_ACCELERATOR = (
    "gpu" if ENGINE == "ensemble" and resolve_engine("auto") == "ensemble" else "cpu"
)


def scorecard_inputs(wildcards):
    """The run's tables, keyed by the `simplexgrad scorecard` option that reads each (those of the studies
    that are off are left out), and the null baseline's."""
    inputs = {
        "claims": SCORECARD_CLAIMS,
        "metrics": f"{SYNTHETIC}/metrics.tsv",
        "angles": f"{SYNTHETIC}/angles.tsv",
        "models": synthetic_runs(f"{SYNTHETIC}/models/{RUN}/metrics.json"),
    }
    if "saliency" in METHODS:
        inputs["attributions"] = synthetic_runs(
            f"{SYNTHETIC}/attributions/{RUN}/saliency.npz"
        )
        inputs["data"] = f"{SYNTHETIC}/data.h5"
        if NULL_BASELINE:
            inputs["null_attributions"] = synthetic_runs(
                f"{NULL}/attributions/{RUN}/saliency.npz"
            )
    if NULL_BASELINE:
        inputs["null_metrics"] = f"{NULL}/metrics.tsv"
        inputs["null_angles"] = f"{NULL}/angles.tsv"
    for study in TRAINING_STUDIES:
        if config[study]["enabled"]:
            inputs[study] = f"{RESULTS}/{study}/summary.tsv"
    if config["encode"]["enabled"] and config["invivo"]["enabled"]:
        inputs["invivo_differences"] = f"{INVIVO}/ensemble_difference.tsv"
        inputs["invivo_angles"] = f"{INVIVO}/angles.tsv"
    return inputs


def scorecard_options(wildcards, input):
    """Every input but the claims file as `--option path...`."""
    return cli_options(
        {
            name: input[name] if isinstance(input[name], str) else list(input[name])
            for name in input.keys()
            if name != "claims"
        }
    )


rule scorecard:
    input:
        unpack(scorecard_inputs),
    output:
        tsv=report(
            f"{RESULTS}/scorecard.tsv",
            caption="../report/scorecard.rst",
            category="Agreement with the paper",
            subcategory="Scorecard",
            labels={"table": "one row per claim (TSV)"},
        ),
        md=report(
            f"{RESULTS}/scorecard.md",
            caption="../report/scorecard.rst",
            category="Agreement with the paper",
            subcategory="Scorecard",
            labels={"table": "by study (Markdown)"},
        ),
    log:
        f"{LOGS}/scorecard.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    params:
        tables=scorecard_options,
        accelerator=SCORECARD_ACCELERATOR,
    shell:
        "python -m simplexgrad scorecard --claims {input.claims:q} {params.tables} "
        "--accelerator {params.accelerator} "
        "--out {output.tsv:q} --out-markdown {output.md:q} > {log:q} 2>&1"
