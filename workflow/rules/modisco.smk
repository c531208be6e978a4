# Motif discovery (tfmodisco-lite) on raw and corrected saliency maps, matched to JASPAR by TOMTOM.

# Its constants, before the rules (its functions are in common.smk): the models and maps motif discovery
# searches, its options and outputs.

MODISCO = config["modisco"]
# The synthetic study's models and seeds that motif discovery searches.
MODISCO_MODELS = {
    "architecture": [a for a in MODISCO["architectures"] if a in ARCHITECTURES],
    "activation": [a for a in MODISCO["activations"] if a in ACTIVATIONS],
    "seed": [seed for seed in MODISCO["seeds"] if seed in SEEDS],
}
# Every modisco job waits for the one job that compiles the numba kernels into the environment's cache.
MODISCO_KERNELS = f"{RESULTS}/environment/modisco_kernels.tsv"
MODISCO_OPTIONS = cli_options(
    {key: MODISCO[key] for key in ("max_seqlets", "window", "report")}
    | {"jaspar_release": config["synthetic"]["jaspar_release"]}
)


rule modisco_kernels:
    output:
        MODISCO_KERNELS,
    log:
        f"{LOGS}/environment/modisco_kernels.log",
    conda:
        "../../envs/modisco.yaml"
    threads: 1
    shell:
        "python -m simplexgrad modisco-kernels --out {output:q} > {log:q} 2>&1"


rule modisco_synthetic:
    input:
        attributions=f"{SYNTHETIC}/attributions/{RUN}/saliency.npz",
        kernels=MODISCO_KERNELS,
    output:
        results=f"{SYNTHETIC}/modisco/{RUN}/{{maps}}/modisco.h5",
        motifs=f"{SYNTHETIC}/modisco/{RUN}/{{maps}}/motifs.tsv",
        report=modisco_report(f"{SYNTHETIC}/modisco/{RUN}/{{maps}}/report"),
    log:
        f"{LOGS}/synthetic/modisco/{RUN}/{{maps}}.log",
    conda:
        "../../envs/modisco.yaml"
    threads: 1
    params:
        out=lambda wildcards, output: os.path.dirname(output.results),
        planted=config["synthetic"]["core_ids"],
        options=MODISCO_OPTIONS,
    shell:
        "python -m simplexgrad modisco --attributions {input.attributions:q} --out-dir {params.out:q} "
        "--which {wildcards.maps} --planted-ids {params.planted} {params.options} "
        "--labels architecture={wildcards.architecture} "
        "activation={wildcards.activation} seed={wildcards.seed} maps={wildcards.maps} > {log:q} 2>&1"


rule modisco_invivo:
    input:
        attributions=invivo_modisco_input,
        kernels=MODISCO_KERNELS,
    output:
        results=f"{INVIVO}/modisco/{{tf}}/{{source}}/modisco.h5",
        motifs=f"{INVIVO}/modisco/{{tf}}/{{source}}/motifs.tsv",
        report=modisco_report(f"{INVIVO}/modisco/{{tf}}/{{source}}/report"),
    log:
        f"{LOGS}/invivo/modisco/{{tf}}/{{source}}.log",
    wildcard_constraints:
        source="ensemble_corrected|member_raw",
    conda:
        "../../envs/modisco.yaml"
    threads: 1
    params:
        out=lambda wildcards, output: os.path.dirname(output.results),
        which=lambda wildcards: wildcards.source.split("_")[1],
        options=MODISCO_OPTIONS,
    shell:
        "python -m simplexgrad modisco --attributions {input.attributions:q} --out-dir {params.out:q} "
        "--which {params.which} --planted-names {wildcards.tf:q} {params.options} "
        "--labels tf={wildcards.tf} source={wildcards.source} > {log:q} 2>&1"


rule collect_modisco:
    input:
        lambda wildcards: modisco_tables(wildcards.study),
    output:
        report(
            f"{RESULTS}/{{study}}/modisco/motifs.tsv",
            caption="../report/modisco_motifs.rst",
            category="Motif discovery",
            labels={"study": "{study}"},
        ),
    log:
        f"{LOGS}/{{study}}/modisco/collect.log",
    wildcard_constraints:
        study="synthetic|invivo",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    shell:
        "python -m simplexgrad collect --out {output:q} --tables {input:q} > {log:q} 2>&1"


rule modisco_recovery:
    input:
        f"{SYNTHETIC}/modisco/motifs.tsv",
    output:
        pdf=f"{FIGURES}/modisco_recovery.pdf",
        png=report(
            f"{FIGURES}/modisco_recovery.png",
            caption="../report/modisco_recovery.rst",
            category="Motif discovery",
        ),
    log:
        f"{LOGS}/synthetic/figures/modisco_recovery.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    shell:
        "python -m simplexgrad figure modisco_recovery --motifs {input:q} "
        "--out-pdf {output.pdf:q} --out-png {output.png:q} > {log:q} 2>&1"
