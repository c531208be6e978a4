"""The ``simplexgrad`` command line: one subcommand per workflow step."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from simplexgrad import __version__

log = logging.getLogger("simplexgrad")

METHODS = ("saliency", "integrated_gradients", "smoothgrad", "expected_gradients")


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, FileNotFoundError, KeyError) as error:
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


if __name__ == "__main__":
    sys.exit(main())
