rule synthetic_data:
    output:
        f"{SYNTHETIC}/data.h5",
    log:
        f"{LOGS}/synthetic/data.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        cli=CLI,
        seed=config["synthetic"]["seed"],
        num_seqs=config["synthetic"]["num_seqs"],
        length=config["synthetic"]["length"],
        release=config["synthetic"]["jaspar_release"],
        core_ids=config["synthetic"]["core_ids"],
        num_background=config["synthetic"]["num_background"],
    shell:
        "{params.cli} synthetic --out {output:q} --seed {params.seed} "
        "--num-seqs {params.num_seqs} --length {params.length} "
        "--jaspar-release {params.release:q} --core-ids {params.core_ids:q} "
        "--num-background {params.num_background} > {log:q} 2>&1"
