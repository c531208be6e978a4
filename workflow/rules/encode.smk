# The in vivo data: ENCODE GM12878 TF ChIP-seq peaks vs DNase negatives (one dataset per TF).
# Downloads run on the submitting host: cluster nodes are often offline.


localrules:
    encode_manifest,
    download_encode,
    download_genome,


rule encode_manifest:
    input:
        ENCODE_TABLE,
    output:
        f"{ENCODE}/manifest.tsv",
    log:
        f"{LOGS}/encode/manifest.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    params:
        options=cli_options(
            {
                key: config["encode"][key]
                for key in (
                    "portal",
                    "biosample",
                    "output_types",
                    "match_tagged_targets",
                )
            }
            | {"retries": config["encode"]["download_retries"]}
        ),
    shell:
        "python -m simplexgrad encode-manifest --table {input:q} --out {output:q} {params.options} > {log:q} 2>&1"


rule download_encode:
    input:
        f"{ENCODE}/manifest.tsv",
    output:
        f"{ENCODE}/downloads/{{encode_name}}.bed.gz",
    log:
        f"{LOGS}/encode/download/{{encode_name}}.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    params:
        retries=config["encode"]["download_retries"],
    shell:
        "python -m simplexgrad download --manifest {input:q} --manifest-name {wildcards.encode_name:q} "
        "--out {output:q} --retries {params.retries} > {log:q} 2>&1"


rule download_genome:
    input:
        f"{ENCODE}/manifest.tsv",
    output:
        f"{ENCODE}/genome/genome.fa.gz",
    log:
        f"{LOGS}/encode/download/genome.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    params:
        retries=config["encode"]["download_retries"],
    shell:
        "python -m simplexgrad download --manifest {input:q} --manifest-name genome --out {output:q} "
        "--retries {params.retries} > {log:q} 2>&1"


rule prepare_genome:
    input:
        f"{ENCODE}/genome/genome.fa.gz",
    output:
        fasta=f"{ENCODE}/genome/genome.fa",
        index=f"{ENCODE}/genome/genome.fa.fai",
    log:
        f"{LOGS}/encode/prepare_genome.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    shell:
        "python -m simplexgrad prepare-genome --fasta-gz {input:q} --out {output.fasta:q} > {log:q} 2>&1"


rule encode_dataset:
    input:
        manifest=f"{ENCODE}/manifest.tsv",
        peaks=f"{ENCODE}/downloads/{{tf}}.bed.gz",
        dnase=f"{ENCODE}/downloads/{ENCODE_DNASE}.bed.gz",
        fasta=f"{ENCODE}/genome/genome.fa",
        index=f"{ENCODE}/genome/genome.fa.fai",
    output:
        dataset=f"{ENCODE}/{{tf}}.h5",
        counts=f"{ENCODE}/counts/{{tf}}.tsv",
    log:
        f"{LOGS}/encode/dataset/{{tf}}.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    params:
        length=config["encode"]["length"],
        centre=config["encode"]["centre"],
        seed=config["encode"]["seed"],
    shell:
        "python -m simplexgrad encode-dataset --name {wildcards.tf:q} --manifest {input.manifest:q} "
        "--peaks {input.peaks:q} --dnase {input.dnase:q} --genome {input.fasta:q} "
        "--length {params.length} --centre {params.centre} --seed {params.seed} "
        "--tmpdir {resources.tmpdir:q} "
        "--out {output.dataset:q} --out-counts {output.counts:q} > {log:q} 2>&1"


rule encode_summary:
    input:
        expand(f"{ENCODE}/counts/{{tf}}.tsv", tf=ENCODE_TFS),
    output:
        report(
            f"{ENCODE}/summary.tsv",
            caption="../report/encode_summary.rst",
            category="In vivo data",
        ),
    log:
        f"{LOGS}/encode/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    shell:
        "python -m simplexgrad collect --out {output:q} --tables {input:q} > {log:q} 2>&1"
