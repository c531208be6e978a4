# simplexgrad: the study of Majdandzic, Rajesh & Koo as one workflow.
# Full scale: snakemake --cores all; laptop scale: snakemake --cores 2 --configfile config/quick.yaml
import os

from snakemake.utils import min_version

min_version("8.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/attribute.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/invivo.smk"
include: "workflow/rules/modisco.smk"
include: "workflow/rules/scorecard.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
