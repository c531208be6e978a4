"""The ``simplexgrad`` command line: one subcommand per workflow step."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from simplexgrad import __version__
from simplexgrad.download import DownloadError

log = logging.getLogger("simplexgrad")

METHODS = ("saliency", "integrated_gradients", "smoothgrad", "expected_gradients")
FIGURES = ("fig2-scatter", "fig2-correction", "fig3a-patch", "fig3c-motif", "fig3d-background", "fig4a")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simplexgrad",
        description="Simplex-corrected gradient attributions for one-hot sequences.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    synthetic = commands.add_parser(
        "synthetic", help="the billboard dataset with ground-truth sequence models (DESIGN §5)"
    )
    synthetic.add_argument("--out", required=True, help="dataset file to write (.h5)")
    synthetic.add_argument("--seed", type=int, required=True)
    synthetic.add_argument("--num-seqs", type=int, default=20_000)
    synthetic.add_argument("--length", type=int, default=200)
    synthetic.add_argument("--jaspar-release", default="JASPAR2016")
    synthetic.add_argument(
        "--core-ids",
        nargs="+",
        default=None,
        help="core JASPAR matrix IDs (default: the paper's five)",
    )
    synthetic.add_argument("--num-background", type=int, default=50, help="other CORE motifs")
    synthetic.set_defaults(handler=_synthetic)

    train = commands.add_parser("train", help="train one model with the paper's recipe")
    train.add_argument("--data", required=True, help="dataset file (.h5)")
    train.add_argument("--out", required=True, help="folder for model.keras, history.tsv, metrics.json")
    train.add_argument("--model", required=True, choices=("cnn_shallow", "cnn_deep"))
    train.add_argument("--activation", default="relu", choices=("relu", "exponential"))
    train.add_argument("--seed", type=int, required=True)
    train.add_argument("--first-layer-filters", type=int, default=24)
    train.add_argument("--first-layer-kernel-size", type=int, default=19)
    train.add_argument("--init-stddev", type=float, default=None, help="RandomNormal σ (default he_normal)")
    train.add_argument("--angle-penalty", type=float, default=0.0, help="λ of the angle regulariser")
    train.add_argument("--epochs", type=int, default=100)
    train.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    train.add_argument("--lr-patience", type=int, default=3, help="epochs before the learning rate drops")
    train.add_argument("--batch-size", type=int, default=100)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--threads", type=int, default=None, help="CPU threads for the backend")
    train.set_defaults(handler=_train)

    attribute = commands.add_parser(
        "attribute", help="raw and corrected attribution maps of a trained model on a dataset split"
    )
    attribute.add_argument("--model", required=True, help="trained model (.keras)")
    attribute.add_argument("--data", required=True, help="dataset file (.h5, DESIGN §3)")
    attribute.add_argument("--out", required=True, help="attribution file to write (.npz)")
    attribute.add_argument("--method", required=True, choices=METHODS)
    attribute.add_argument("--split", default="test", choices=("train", "valid", "test"))
    attribute.add_argument("--num-seqs", type=int, default=None, help="first N selected sequences")
    attribute.add_argument("--positives-only", action="store_true", help="keep only sequences labelled 1")
    attribute.add_argument("--output", default="probability", choices=("probability", "logit"))
    attribute.add_argument("--class-index", type=int, default=0)
    attribute.add_argument("--batch-size", type=int, default=128)
    attribute.add_argument("--seed", type=int, default=0)
    attribute.add_argument("--steps", type=int, default=20, help="IG / expected gradients")
    attribute.add_argument(
        "--baseline",
        default="shuffle",
        choices=("shuffle", "zeros", "uniform"),
        help="IG reference",
    )
    attribute.add_argument("--num-samples", type=int, default=25, help="SmoothGrad copies")
    attribute.add_argument("--sigma", type=float, default=0.1, help="SmoothGrad noise")
    attribute.add_argument("--num-references", type=int, default=10, help="expected-gradient references")
    attribute.add_argument("--threads", type=int, default=None, help="CPU threads for the backend")
    attribute.set_defaults(handler=_attribute)

    evaluate = commands.add_parser(
        "evaluate", help="interpretability metrics and angle statistics of one attribution file"
    )
    evaluate.add_argument("--attributions", required=True, help="attribution file (.npz)")
    evaluate.add_argument("--data", required=True, help="dataset file with ground truth (.h5)")
    evaluate.add_argument("--classification", required=True, help="the model's metrics.json")
    evaluate.add_argument(
        "--label", action="append", default=[], metavar="NAME=VALUE", help="identifying column"
    )
    evaluate.add_argument("--thresholds", type=float, nargs="+", default=[30.0, 45.0, 60.0])
    evaluate.add_argument("--out-metrics", required=True, help="TSV: raw and corrected metrics")
    evaluate.add_argument("--out-angles", required=True, help="TSV: per-sequence large-angle %%")
    evaluate.set_defaults(handler=_evaluate)

    collect = commands.add_parser("collect", help="concatenate tidy TSV tables")
    collect.add_argument("--out", required=True)
    collect.add_argument("tables", nargs="+")
    collect.set_defaults(handler=_collect)

    summarize = commands.add_parser(
        "summarize", help="before/after summary with Wilcoxon signed-rank tests"
    )
    summarize.add_argument("--metrics", required=True, help="tidy metrics TSV")
    summarize.add_argument("--out", required=True)
    summarize.set_defaults(handler=_summarize)

    download = commands.add_parser(
        "download", help="fetch one file with retries, md5 and gzip checks (atomic)"
    )
    source = download.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="the file's URL")
    source.add_argument("--manifest-name", help="take URL and md5 from this row of --manifest")
    download.add_argument("--manifest", help="manifest TSV (config/encode.tsv format)")
    download.add_argument("--md5", default="", help="expected md5 (empty: warn and skip the check)")
    download.add_argument("--out", required=True)
    download.add_argument("--retries", type=int, default=3)
    download.add_argument("--backoff", type=float, default=2.0, help="seconds before the first retry")
    download.set_defaults(handler=_download)

    genome = commands.add_parser("prepare-genome", help="decompress a FASTA.gz and index it (.fai)")
    genome.add_argument("--fasta-gz", required=True)
    genome.add_argument("--out", required=True, help="plain FASTA to write; FILE.fai is written too")
    genome.set_defaults(handler=_prepare_genome)

    manifest = commands.add_parser(
        "encode-manifest", help="fill experiment/file/URL/md5 cells of the ENCODE table from the portal"
    )
    manifest.add_argument("--table", required=True, help="manifest TSV to read")
    manifest.add_argument("--out", required=True, help="manifest TSV to write (may be --table)")
    manifest.add_argument("--portal", default="https://www.encodeproject.org")
    manifest.add_argument("--biosample", default="GM12878")
    manifest.add_argument("--refresh", action="store_true", help="re-resolve complete rows too")
    manifest.set_defaults(handler=_encode_manifest)

    dataset = commands.add_parser(
        "encode-dataset", help="balanced TF-peak vs DNase windows of one TF as a dataset file"
    )
    dataset.add_argument("--name", required=True, help="the TF's manifest name")
    dataset.add_argument("--manifest", required=True)
    dataset.add_argument("--peaks", required=True, help="the TF's narrowPeak(.gz)")
    dataset.add_argument("--dnase", required=True, help="DNase peaks, narrowPeak(.gz)")
    dataset.add_argument("--genome", required=True, help="indexed FASTA (FILE.fai beside it)")
    dataset.add_argument("--length", type=int, default=200)
    dataset.add_argument("--centre", default="midpoint", choices=("midpoint", "summit"))
    dataset.add_argument("--seed", type=int, default=0)
    dataset.add_argument("--genome-md5", default="", help="recorded as provenance")
    dataset.add_argument("--tmpdir", default=None, help="BEDTools temporary files go below this")
    dataset.add_argument("--out", required=True, help="dataset file (.h5)")
    dataset.add_argument("--out-counts", required=True, help="one-row TSV of counts")
    dataset.set_defaults(handler=_encode_dataset)

    figure = commands.add_parser("figure", help="one figure of the paper (PDF and PNG)")
    figure.add_argument("name", choices=sorted(FIGURES))
    figure.add_argument("--out-pdf", required=True)
    figure.add_argument("--out-png", required=True)
    figure.add_argument("--metrics", help="tidy metrics TSV (fig2-*)")
    figure.add_argument("--angles", help="tidy large-angle TSV (fig4a)")
    figure.add_argument("--method", default="saliency", choices=METHODS)
    figure.add_argument("--attributions", help="attribution file (fig3-*)")
    figure.add_argument("--data", help="dataset file with ground truth (fig3-*)")
    figure.add_argument("--model-name", default="", help="title of fig3 panels")
    figure.add_argument("--sequence", type=int, default=0, help="fig3a: row of the attribution file")
    figure.add_argument("--width", type=int, default=60, help="fig3a: patch width")
    figure.set_defaults(handler=_figure)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, FileNotFoundError, KeyError, LookupError, DownloadError) as error:
        log.error("%s", error)
        return 2
    return 0


def method_parameters(args: argparse.Namespace) -> dict:
    """The keyword arguments of the chosen attribution method, from parsed arguments."""
    common = {"batch_size": args.batch_size, "class_index": args.class_index, "output": args.output}
    specific = {
        "saliency": {},
        "integrated_gradients": {"steps": args.steps, "baseline": args.baseline, "seed": args.seed},
        "smoothgrad": {"num_samples": args.num_samples, "sigma": args.sigma, "seed": args.seed},
        "expected_gradients": {
            "num_references": args.num_references,
            "steps": args.steps,
            "seed": args.seed,
        },
    }[args.method]
    return {**common, **specific}


def _synthetic(args: argparse.Namespace) -> None:
    from simplexgrad.motifs import CORE_MOTIFS
    from simplexgrad.synthetic import write_synthetic_dataset

    dataset = write_synthetic_dataset(
        args.out,
        num_seqs=args.num_seqs,
        length=args.length,
        seed=args.seed,
        release=args.jaspar_release,
        core_ids=tuple(args.core_ids or CORE_MOTIFS),
        num_background=args.num_background,
    )
    sizes = {name: len(arrays["y"]) for name, arrays in dataset.splits.items()}
    log.info("wrote %s: %s sequences of %d nt, seed %d", args.out, sizes, args.length, args.seed)


def _train(args: argparse.Namespace) -> None:
    from simplexgrad.training import TrainingConfig, train_to_directory

    config = TrainingConfig(
        architecture=args.model,
        activation=args.activation,
        seed=args.seed,
        first_layer_filters=args.first_layer_filters,
        first_layer_kernel_size=args.first_layer_kernel_size,
        init_stddev=args.init_stddev,
        angle_penalty=args.angle_penalty,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        early_stopping_patience=args.patience,
        lr_patience=args.lr_patience,
    )
    train_to_directory(args.data, args.out, config, threads=args.threads)


def _attribute(args: argparse.Namespace) -> None:
    import numpy as np

    from simplexgrad import attribution, io
    from simplexgrad.runtime import configure_threads, load_model

    configure_threads(args.threads)
    split = io.load_split(args.data, args.split)
    indices = np.arange(len(split.x))
    if args.positives_only:
        indices = indices[split.y[:, args.class_index] == 1]
    if args.num_seqs is not None:
        if args.num_seqs < 1:
            raise ValueError(f"--num-seqs must be >= 1; got {args.num_seqs}")
        indices = indices[: args.num_seqs]
    if len(indices) == 0:
        raise ValueError(f"no sequences selected from the {args.split} split of {args.data}")
    model = load_model(args.model)
    parameters = method_parameters(args)
    log.info("%s on %d sequences: %s", args.method, len(indices), parameters)
    raw, corrected = getattr(attribution, args.method)(
        model, split.x[indices], return_corrected=True, progress=True, **parameters
    )
    io.save_attributions(
        args.out,
        raw,
        corrected,
        split.x[indices],
        indices,
        {"method": args.method, "split": args.split, "model": str(args.model), **parameters},
    )
    log.info("wrote %s", args.out)



def _download(args: argparse.Namespace) -> None:
    from simplexgrad.download import download

    url, md5 = args.url, args.md5
    if args.manifest_name:
        from simplexgrad.encode import manifest_row, read_manifest

        if not args.manifest:
            raise ValueError("--manifest-name needs --manifest")
        row = manifest_row(read_manifest(args.manifest), args.manifest_name)
        url, md5 = row["url"], row["md5"]
    download(url, args.out, md5=md5, retries=args.retries, backoff_seconds=args.backoff)


def _prepare_genome(args: argparse.Namespace) -> None:
    import pyfaidx

    from simplexgrad.download import decompress_gzip
    from simplexgrad.io import atomic_output

    decompress_gzip(args.fasta_gz, args.out)
    with atomic_output(f"{args.out}.fai") as temporary:
        temporary.unlink()  # pyfaidx would otherwise trust the empty placeholder as an index
        pyfaidx.Faidx(args.out, indexname=str(temporary)).close()
    log.info("wrote %s and its index", args.out)


def _encode_manifest(args: argparse.Namespace) -> None:
    from simplexgrad.encode import read_manifest, resolve_manifest, write_manifest

    table = resolve_manifest(read_manifest(args.table), args.portal, args.biosample, args.refresh)
    write_manifest(table, args.out)
    missing = table[(table["url"] == "") | (table["md5"] == "")]
    for name in missing["name"]:
        log.warning("%s: URL or md5 still unknown", name)


def _encode_dataset(args: argparse.Namespace) -> None:
    import pandas as pd

    from simplexgrad.encode import build_dataset, manifest_row, read_manifest, write_dataset

    table = read_manifest(args.manifest)
    row = manifest_row(table, args.name)
    dnase = manifest_row(table, table["name"][table["assay"] == "DNase-seq"].iloc[0])
    dataset = build_dataset(
        args.peaks, args.dnase, args.genome, args.length, args.centre, args.seed, tmpdir=args.tmpdir
    )
    provenance = {
        "name": row["name"],
        "target": row["target"],
        "experiment": row["experiment"],
        "file": row["file"],
        "url": row["url"],
        "md5": row["md5"],
        "assembly": row["assembly"],
        "dnase_experiment": dnase["experiment"],
        "dnase_file": dnase["file"],
        "dnase_md5": dnase["md5"],
        "genome_md5": args.genome_md5,
        "length": args.length,
        "centre": args.centre,
        "seed": args.seed,
        "split_fractions": [0.7, 0.1, 0.2],
    }
    write_dataset(args.out, dataset, provenance)
    counts = pd.DataFrame([{"name": row["name"], "target": row["target"], **dataset.counts}])
    _write_tsv(counts, args.out_counts)
    log.info("wrote %s: %s", args.out, dataset.counts)


def parse_labels(pairs: Sequence[str]) -> dict[str, str]:
    """``['model=cnn_deep', 'seed=3']`` → ``{'model': 'cnn_deep', 'seed': '3'}``."""
    labels = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"--label must be NAME=VALUE; got {pair!r}")
        labels[name] = value
    return labels


def _ground_truth(attributions: dict, data: str):
    from simplexgrad import io

    split = io.load_split(data, attributions["params"]["split"])
    if split.model_probs is None:
        raise ValueError(f"{data} has no ground-truth sequence models (model_* keys)")
    return split.model_probs[attributions["indices"]]


def _evaluate(args: argparse.Namespace) -> None:
    import json

    from simplexgrad import io
    from simplexgrad.evaluation import interpretability_table, large_angle_table

    attributions = io.load_attributions(args.attributions)
    model_probs = _ground_truth(attributions, args.data)
    with open(args.classification) as handle:
        classification = json.load(handle)
    labels = {
        **parse_labels(args.label),
        "method": attributions["params"]["method"],
        "classification_auroc": classification["test_auroc"],
    }
    metrics = interpretability_table(
        attributions["raw"], attributions["corrected"], attributions["x"], model_probs, labels
    )
    angle_labels = {k: v for k, v in labels.items() if k != "classification_auroc"}
    angles = large_angle_table(
        attributions["raw"], attributions["indices"], angle_labels, args.thresholds
    )
    _write_tsv(metrics, args.out_metrics)
    _write_tsv(angles, args.out_angles)


def _collect(args: argparse.Namespace) -> None:
    import pandas as pd

    tables = [pd.read_csv(path, sep="\t") for path in args.tables]
    columns = list(tables[0].columns)
    for path, table in zip(args.tables, tables):
        if list(table.columns) != columns:
            raise ValueError(f"{path} has columns {list(table.columns)}, expected {columns}")
    _write_tsv(pd.concat(tables, ignore_index=True), args.out)


def _summarize(args: argparse.Namespace) -> None:
    import pandas as pd

    from simplexgrad.evaluation import summary_table

    _write_tsv(summary_table(pd.read_csv(args.metrics, sep="\t")), args.out)


def _write_tsv(table, path: str) -> None:
    from simplexgrad.io import atomic_output

    with atomic_output(path) as temporary:
        table.to_csv(temporary, sep="\t", index=False, float_format="%.6g")


def _require(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) is None]
    if missing:
        raise ValueError(f"figure {args.name} needs {' '.join(missing)}")


def _figure(args: argparse.Namespace) -> None:
    import pandas as pd

    from simplexgrad import plots

    if args.name in ("fig2-scatter", "fig2-correction"):
        _require(args, "metrics")
        metrics = pd.read_csv(args.metrics, sep="\t")
        draw = (
            plots.classification_vs_interpretability
            if args.name == "fig2-scatter"
            else plots.correction_scatter
        )
        figure = draw(metrics, args.method)
    elif args.name == "fig4a":
        _require(args, "angles")
        figure = plots.large_angle_histograms(pd.read_csv(args.angles, sep="\t"), args.method)
    else:
        _require(args, "attributions", "data")
        figure = _sequence_figure(args)
    plots.save_figure(figure, args.out_pdf, args.out_png)


def _sequence_figure(args: argparse.Namespace):
    import numpy as np

    from simplexgrad import io, plots
    from simplexgrad.correction import simplex_angle
    from simplexgrad.metrics import grad_times_input, information_content, positionwise_improvement

    attributions = io.load_attributions(args.attributions)
    model_probs = _ground_truth(attributions, args.data)
    raw, corrected, x = attributions["raw"], attributions["corrected"], attributions["x"]
    angles = simplex_angle(raw)
    information = information_content(model_probs)
    if args.name == "fig3a-patch":
        if not 0 <= args.sequence < len(raw):
            raise ValueError(f"--sequence must be in [0, {len(raw)}); got {args.sequence}")
        row, length = args.sequence, raw.shape[1]
        width = min(args.width, length)
        motif = np.flatnonzero(information[row] > 0.1)
        start = int(np.clip((motif[0] if len(motif) else 0) - 10, 0, length - width))
        return plots.sequence_patch(
            x[row], model_probs[row], raw[row], corrected[row], angles[row], start, width
        )
    if args.name == "fig3c-motif":
        motif = information > 0.1
        improvement = positionwise_improvement(raw, corrected, model_probs)
        return plots.motif_angles(angles[motif], improvement[motif], args.model_name)
    background = np.abs(information) < 1e-6
    return plots.background_angles(
        angles[background],
        grad_times_input(raw, x)[background],
        grad_times_input(corrected, x)[background],
        args.model_name,
    )


if __name__ == "__main__":
    sys.exit(main())
