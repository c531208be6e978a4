# The paper's claims (resources/paper_claims.tsv) against this run: one verdict per claim. The claims of a
# study that this configuration leaves out are scored "not run at this configuration", never dropped.
# Its params depend on the configuration only, not on how Snakemake was called (e.g. which --configfile
# names were given), so another invocation of the same study plans no rerun.

# Its constants, before the rules (its functions are in common.smk): the claims file, where the models
# trained, and the run's tables.
SCORECARD_CLAIMS = workflow_file("resources/paper_claims.tsv")
# The GPU epoch-time claim is scored only when the models trained on a GPU: the ensemble engine with a GPU
# that JAX sees (resolve_engine imports JAX only for the ensemble engine).
SCORECARD_ACCELERATOR = (
    "gpu" if ENGINE == "ensemble" and resolve_engine("auto") == "ensemble" else "cpu"
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
