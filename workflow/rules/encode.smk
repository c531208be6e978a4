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
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cli=CLI,
        portal=config["encode"]["portal"],
        biosample=config["encode"]["biosample"],
    shell:
        "{params.cli} encode-manifest --table {input:q} --out {output:q} "
        "--portal {params.portal:q} --biosample {params.biosample:q} > {log:q} 2>&1"


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
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        cli=CLI,
        retries=config["encode"]["download_retries"],
    shell:
        "{params.cli} download --manifest {input:q} --manifest-name {wildcards.encode_name:q} "
        "--out {output:q} --retries {params.retries} > {log:q} 2>&1"


rule download_genome:
    output:
        f"{ENCODE}/genome/genome.fa.gz",
    log:
        f"{LOGS}/encode/download/genome.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=120,
    params:
        cli=CLI,
        url=config["encode"]["genome"]["url"],
        md5=config["encode"]["genome"]["md5"],
        retries=config["encode"]["download_retries"],
    shell:
        "{params.cli} download --url {params.url:q} --md5 {params.md5:q} --out {output:q} "
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
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cli=CLI,
    shell:
        "{params.cli} prepare-genome --fasta-gz {input:q} --out {output.fasta:q} > {log:q} 2>&1"


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
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        cli=CLI,
        length=config["encode"]["length"],
        centre=config["encode"]["centre"],
        seed=config["encode"]["seed"],
        genome_md5=config["encode"]["genome"]["md5"],
    shell:
        "{params.cli} encode-dataset --name {wildcards.tf:q} --manifest {input.manifest:q} "
        "--peaks {input.peaks:q} --dnase {input.dnase:q} --genome {input.fasta:q} "
        "--length {params.length} --centre {params.centre} --seed {params.seed} "
        "--genome-md5 {params.genome_md5:q} --tmpdir {resources.tmpdir:q} "
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
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cli=CLI,
    shell:
        "{params.cli} collect --out {output:q} {input:q} > {log:q} 2>&1"
