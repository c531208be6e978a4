"""Bad inputs, one table: every case exits with status 2, says one line on stderr naming the file or the
option, shows no traceback and leaves no file in the output folder (hidden ones included).

The command-line cases run in this process (``cli.main(argv)``: ERROR log records and argparse's
stderr together form what the user would see); the config cases run Snakemake's dry-run, as a user
does. Inputs are made once per session, the only model is a tiny one.
"""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from conftest import random_onehot, small_cnn
from simplexgrad import cli, correct
from simplexgrad.attribution.maps import read_array
from simplexgrad.io import atomic_output, save_attributions

ROOT = Path(__file__).resolve().parents[1]
LENGTH = 30


def write_dataset(path: Path, x: np.ndarray, y: np.ndarray, with_truth: bool = False) -> Path:
    with h5py.File(path, "w") as handle:
        for split in ("train", "valid", "test"):
            handle[f"x_{split}"] = x
            handle[f"y_{split}"] = y
            if with_truth:
                handle[f"model_{split}"] = np.full(x.shape, 0.25, np.float32)
    return path


def corrupt_member(source: Path, target: Path) -> Path:
    """A copy of a compressed ``.npz`` whose member's deflate stream is damaged (CRC and sizes kept)."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.infolist()[0]
    header = info.header_offset  # the local header's name and extra lengths may differ from the directory's
    start = header + 30 + int.from_bytes(data[header + 26 : header + 28], "little")
    start += int.from_bytes(data[header + 28 : header + 30], "little")
    data[start : start + 16] = b"\xff" * 16  # reserved block type: zlib.error on reading
    target.write_bytes(bytes(data))
    return target


def corrupt_gzip_chunk(target: Path, array: np.ndarray) -> Path:
    """An HDF5 file whose gzip-compressed dataset has a damaged chunk."""
    with h5py.File(target, "w") as handle:
        dataset = handle.create_dataset("maps", data=array, compression="gzip", chunks=(2,) + array.shape[1:])
        offset = dataset.id.get_chunk_info(0).byte_offset
    data = bytearray(target.read_bytes())
    data[offset : offset + 16] = b"\xff" * 16
    target.write_bytes(bytes(data))
    return target


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Every input file of the table, made once; a tiny .keras model among them."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(7)
    maps = rng.normal(size=(6, LENGTH, 4)).astype(np.float32)
    x = random_onehot(rng, 6, LENGTH)
    y = (np.arange(6) % 2).astype(np.float32)[:, None]
    paths: dict[str, Path] = {}

    def add(name: str, write) -> None:
        paths[name] = folder / name
        write(paths[name])

    add("maps.npy", lambda p: np.save(p, maps))
    add("maps.npz", lambda p: np.savez(p, a=maps, b=maps))
    add("maps.h5", lambda p: h5py.File(p, "w").create_dataset("g/maps", data=maps).file.close())
    add("nal.npy", lambda p: np.save(p, np.swapaxes(maps, 1, 2)))
    add("nla.npy", lambda p: np.save(p, maps))
    add("none.npy", lambda p: np.save(p, maps[:0]))
    add("protein.npy", lambda p: np.save(p, rng.normal(size=(2, 7, 20))))
    add("nan.npy", lambda p: np.save(p, np.where(maps > 1.5, np.nan, maps)))
    add("text.npy", lambda p: np.save(p, np.full((2, 3, 4), "a")))
    add("empty.npy", lambda p: p.write_bytes(b""))
    add("empty.npz", lambda p: p.write_bytes(b""))
    add("compressed.npz", lambda p: np.savez_compressed(p, maps=rng.normal(size=(40, 50, 4))))
    paths["bad_member.npz"] = corrupt_member(paths["compressed.npz"], folder / "bad_member.npz")
    paths["bad_chunk.h5"] = corrupt_gzip_chunk(folder / "bad_chunk.h5", rng.normal(size=(8, 50, 4)))
    add("peaks.h5", lambda p: p.write_text("chrom\tstart\tend\n"))
    add("maps.txt", lambda p: p.write_text("1 2 3\n"))
    add("soft.npy", lambda p: np.save(p, np.abs(maps)))
    add("a_file", lambda p: p.write_text("a file where a folder should be"))
    add("folder.npy", lambda p: p.mkdir())
    add("data.h5", lambda p: write_dataset(p, x, y, with_truth=True))
    add("nal_data.h5", lambda p: write_dataset(p, np.swapaxes(x, 1, 2), y))
    add("soft_data.h5", lambda p: write_dataset(p, x * 3.9 + 0.2, y))
    add(
        "nan_data.h5",
        lambda p: write_dataset(p, np.where(np.arange(LENGTH)[None, :, None] == 5, np.nan, x), y),
    )
    add("short_y.h5", lambda p: write_dataset(p, x, y[:-1]))
    add("no_rows.h5", lambda p: write_dataset(p, x[:0], y[:0]))
    add("no_test.h5", lambda p: h5py.File(p, "w").create_dataset("x_train", data=x).file.close())
    add("x.npy", lambda p: np.save(p, x))
    add("model.keras", lambda p: small_cnn(length=LENGTH, seed=3).save(p))
    add("corrupt.keras", lambda p: p.write_bytes(b"PK\x03\x04 truncated"))
    add("attributions.npz", lambda p: save_attributions(p, maps, correct(maps), x, np.arange(6), {
        "method": "saliency"}))  # fmt: skip
    add("truncated.npz", lambda p: p.write_bytes(paths["attributions.npz"].read_bytes()[:300]))
    add("metrics.tsv", lambda p: p.write_text("model\tmethod\tcosine\nm\tsaliency\t0.5\n"))
    add("manifest_columns.tsv", lambda p: p.write_text("name\ttarget\nCTCF\tCTCF\n"))
    add("ids.tsv", lambda p: p.write_text("matrix_id\n"))
    add("seeds.tsv", lambda p: p.write_text("x\n"))
    add("link_to_maps.npy", lambda p: p.symlink_to(paths["maps.npy"]))
    add("hard_x.npy", lambda p: os.link(paths["x.npy"], p))
    add("complex.npy", lambda p: np.save(p, maps.astype(np.complex64)))
    add("truncated.npy", lambda p: p.write_bytes(paths["maps.npy"].read_bytes()[:300]))
    add("objects.npy", lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True))
    late_nan = np.zeros((3000, 250, 4), np.float32)  # past the first block that correct reads
    late_nan[2900, 7, 1] = np.nan
    add("nan_late.npy", lambda p: np.save(p, late_nan))
    add("two_labels.h5", lambda p: write_dataset(p, x, np.concatenate([y, 1 - y], axis=1)))
    add("metrics.json", lambda p: p.write_text('{"test_auroc": 0.5}\n'))
    params = {"method": "saliency", "split": "test"}
    other_x = random_onehot(np.random.default_rng(99), 6, LENGTH)  # another dataset of the same shape
    add(
        "other_attributions.npz",
        lambda p: save_attributions(p, maps, correct(maps), other_x, np.arange(6), params),
    )
    add(
        "rows_attributions.npz",
        lambda p: save_attributions(p, maps, correct(maps), x, np.arange(6) + 50, params),
    )
    long = rng.normal(size=(6, LENGTH + 10, 4)).astype(np.float32)
    long_x = random_onehot(rng, 6, LENGTH + 10)
    add(
        "long_attributions.npz",
        lambda p: save_attributions(p, long, correct(long), long_x, np.arange(6), params),
    )
    paths["proc"] = Path("/proc/simplexgrad_nowhere")
    return paths


# (case id, argv, fragments that the one line must contain). "{name}" stands for an input file, "{out}"
# for the case's (empty) output folder.
CORRECT = [
    ("npy-to-npz", "correct --in {maps.npy} --out {out}/c.npz", ["--out", "c.npz", ".npy"]),
    ("npy-to-txt", "correct --in {maps.npy} --out {out}/c.txt", ["--out", "c.txt"]),
    ("npz-to-npy", "correct --in {maps.npz} --key a --out {out}/c.npy", ["--out", "c.npy", ".npz"]),
    ("h5-to-npz", "correct --in {maps.h5} --out {out}/c.npz", ["--out", "c.npz", ".h5"]),
    ("npy-no-suffix", "correct --in {maps.npy} --out {out}/c", ["--out", "no suffix"]),
    ("threshold-120", "correct --in {maps.npy} --out {out}/c.npy --thresholds 120 -5", ["thresholds", "120"]),
    ("threshold-nan", "correct --in {maps.npy} --out {out}/c.npy --thresholds nan", ["thresholds"]),
    ("threshold-text", "correct --in {maps.npy} --out {out}/c.npy --thresholds wide", ["--thresholds"]),
    ("report-nowhere", "correct --in {maps.npy} --out {out}/c.npy --report {proc}/r.tsv", ["--report"]),
    (
        "report-under-file",
        "correct --in {maps.npy} --out {out}/c.npy --report {a_file}/r.tsv",
        ["--report", "a_file", "not a folder"],
    ),
    (
        "report-is-out",
        "correct --in {maps.npy} --out {out}/c.npy --report {out}/c.npy",
        ["--report", "--out"],
    ),
    ("out-is-folder", "correct --in {maps.npy} --out {folder.npy}", ["--out", "folder.npy", "folder"]),
    ("out-under-file", "correct --in {maps.npy} --out {a_file}/c.npy", ["--out", "a_file"]),
    ("zero-byte-npy", "correct --in {empty.npy} --out {out}/c.npy", ["empty.npy", "not a readable .npy"]),
    ("zero-byte-npz", "correct --in {empty.npz} --out {out}/c.npz", ["empty.npz", "not a readable .npz"]),
    (
        "corrupt-member",
        "correct --in {bad_member.npz} --out {out}/c.npz",
        ["bad_member.npz", "not a readable"],
    ),
    ("corrupt-gzip-chunk", "correct --in {bad_chunk.h5} --out {out}/c.h5", ["bad_chunk.h5", "maps"]),
    ("not-hdf5", "correct --in {peaks.h5} --out {out}/c.h5", ["peaks.h5", "not a readable HDF5"]),
    ("missing", "correct --in {out}/../missing.npy --out {out}/c.npy", ["missing.npy", "not found"]),
    ("unknown-format", "correct --in {maps.txt} --out {out}/c.txt", ["maps.txt", "unknown format"]),
    ("nal-as-nla", "correct --in {nal.npy} --out {out}/c.npy", ["nal.npy", "--layout NAL"]),
    ("nla-as-nal", "correct --in {nla.npy} --out {out}/c.npy --layout NAL", ["nla.npy", "--layout NLA"]),
    ("empty-maps", "correct --in {none.npy} --out {out}/c.npy", ["none.npy", "no maps"]),
    ("protein-as-dna", "correct --in {protein.npy} --out {out}/c.npy", ["protein.npy", "--alphabet-size"]),
    ("alphabet-1", "correct --in {maps.npy} --out {out}/c.npy --alphabet-size 1", ["--alphabet-size"]),
    ("layout-xyz", "correct --in {maps.npy} --out {out}/c.npy --layout XYZ", ["--layout"]),
    ("two-arrays-no-key", "correct --in {maps.npz} --out {out}/c.npz", ["maps.npz", "--key"]),
    ("h5-missing-key", "correct --in {maps.h5} --key nope --out {out}/c.h5", ["maps.h5", "nope"]),
    ("nan-maps", "correct --in {nan.npy} --out {out}/c.npy", ["nan.npy", "NaN"]),
    ("text-maps", "correct --in {text.npy} --out {out}/c.npy", ["text.npy", "not numeric"]),
    (
        "one-hot-soft",
        "correct --in {maps.npy} --out {out}/c.npy --one-hot {soft.npy}",
        ["soft.npy", "one-hot"],
    ),
    ("unknown-option", "correct --in {maps.npy} --out {out}/c.npy --colour red", ["--colour"]),
    ("no-out", "correct --in {maps.npy}", ["--out"]),
]
ANGLES = [
    (
        "missing-model",
        "angles --model {out}/../none.keras --data {x.npy} --out {out}/a.tsv "
        "--out-pdf {out}/a.pdf --out-png {out}/a.png",
        ["none.keras", "not found"],
    ),
    (
        "corrupt-model",
        "angles --model {corrupt.keras} --data {x.npy} --out {out}/a.tsv "
        "--out-pdf {out}/a.pdf --out-png {out}/a.png",
        ["corrupt.keras", "not a readable .keras"],
    ),
    (
        "nal-data",
        "angles --model {model.keras} --data {nal_data.h5} --out {out}/a.tsv "
        "--out-pdf {out}/a.pdf --out-png {out}/a.png",
        ["nal_data.h5", "--layout NAL"],
    ),
    (
        "class-index",
        "angles --model {model.keras} --data {x.npy} --out {out}/a.tsv --out-pdf {out}/a.pdf "
        "--out-png {out}/a.png --class-index 5",
        ["--class-index", "model.keras"],
    ),
    (
        "pdf-suffix",
        "angles --model {model.keras} --data {x.npy} --out {out}/a.tsv --out-pdf {out}/a.png "
        "--out-png {out}/b.png",
        ["--out-pdf", ".pdf"],
    ),
    (
        "same-outputs",
        "angles --model {model.keras} --data {x.npy} --out {out}/a.tsv --out-pdf {out}/a.pdf "
        "--out-png {out}/a.png --out {out}/a.pdf",
        ["--out-pdf", "--out"],
    ),
    (
        "thresholds",
        "angles --model {model.keras} --data {x.npy} --out {out}/a.tsv --out-pdf {out}/a.pdf "
        "--out-png {out}/a.png --thresholds 95",
        ["thresholds"],
    ),
    (
        "soft-data",
        "angles --model {model.keras} --data {soft.npy} --out {out}/a.tsv --out-pdf {out}/a.pdf "
        "--out-png {out}/a.png",
        ["soft.npy", "one-hot"],
    ),
]
ATTRIBUTE = "attribute --model {model.keras} --data {data.h5} --out {out}/m.npz"
ATTRIBUTE_ON = "attribute --model {{model.keras}} --data {{{}}} --out {{out}}/m.npz --method saliency"
ATTRIBUTE_CASES = [
    ("unknown-method", ATTRIBUTE + " --method occlusion", ["occlusion"]),
    ("foreign-option", ATTRIBUTE + " --method saliency --steps 5", ["saliency", "steps"]),
    ("steps-0", ATTRIBUTE + " --method integrated_gradients --steps 0", ["steps"]),
    ("sigma-negative", ATTRIBUTE + " --method smoothgrad --sigma -1", ["sigma"]),
    ("samples-0", ATTRIBUTE + " --method smoothgrad --num-samples 0", ["num_samples"]),
    ("references-0", ATTRIBUTE + " --method expected_gradients --num-references 0", ["num_references"]),
    (
        "out-suffix",
        "attribute --model {model.keras} --data {data.h5} --out {out}/m.npy --method saliency",
        ["--out", ".npz"],
    ),
    (
        "missing-data",
        "attribute --model {model.keras} --data {out}/../none.h5 --out {out}/m.npz --method saliency",
        ["none.h5"],
    ),
    ("split", ATTRIBUTE + " --method saliency --split holdout", ["--split"]),
    ("num-seqs-0", ATTRIBUTE + " --method saliency --num-seqs 0", ["num_seqs"]),
    ("class-index", ATTRIBUTE + " --method saliency --class-index 3", ["class_index"]),
    ("batch-size-0", ATTRIBUTE + " --method saliency --batch-size 0", ["batch_size"]),
    (
        "no-test-split",
        "attribute --model {model.keras} --data {no_test.h5} --out {out}/m.npz --method saliency",
        ["no_test.h5", "x_test"],
    ),
    (
        "nal-data",
        "attribute --model {model.keras} --data {nal_data.h5} --out {out}/m.npz --method saliency",
        ["nal_data.h5", "x_test"],
    ),
    # moved here from test_cli.py: bad data gets one line naming the file and the key
    ("nan-data", ATTRIBUTE_ON.format("nan_data.h5"), ["{nan_data.h5}", "x_test", "NaN"]),
    ("soft-data", ATTRIBUTE_ON.format("soft_data.h5"), ["{soft_data.h5}", "x_test", "not one-hot"]),
    (
        "short-labels",
        ATTRIBUTE_ON.format("short_y.h5"),
        ["{short_y.h5}", "y_test has 5 rows", "x_test has 6"],
    ),
    ("no-sequences", ATTRIBUTE_ON.format("no_rows.h5"), ["{no_rows.h5}", "x_test", "no sequences"]),
]
TRAIN = [
    ("missing-data", "train --data {out}/../none.h5 --out {out}/run --architecture cnn_shallow", ["none.h5"]),
    ("architecture", "train --data {data.h5} --out {out}/run --architecture resnet", ["--architecture"]),
    ("out-is-file", "train --data {data.h5} --out {a_file} --architecture cnn_shallow", ["--out", "a_file"]),
    ("out-nowhere", "train --data {data.h5} --out {proc}/run --architecture cnn_shallow", ["--out"]),
    (
        "epochs-text",
        "train --data {data.h5} --out {out}/run --architecture cnn_shallow --epochs many",
        ["--epochs"],
    ),
]
ENSEMBLE = "train-ensemble --data {data.h5} --architecture cnn_shallow"
ENSEMBLE_CASES = [
    ("backwards-range", ENSEMBLE + " --out-template {out}/s{{seed}} --seeds 5-2", ["--seeds", "5-2"]),
    ("not-a-seed", ENSEMBLE + " --out-template {out}/s{{seed}} --seeds one", ["--seeds", "one"]),
    ("repeated-seeds", ENSEMBLE + " --out-template {out}/s{{seed}} --seeds 0-3 2", ["seeds", "repeats"]),
    ("template", ENSEMBLE + " --out-template {out}/member --seeds 0-3", ["--out-template"]),
]
SYNTHETIC = [
    ("length-0", "synthetic --out {out}/d.h5 --seed 0 --num-seqs 10 --length 0", ["--length", "0"]),
    ("out-suffix", "synthetic --out {out}/d.npz --seed 0 --num-seqs 10", ["--out", ".h5"]),
    ("out-nowhere", "synthetic --out {proc}/d.h5 --seed 0 --num-seqs 10", ["--out"]),
    ("no-seed", "synthetic --out {out}/d.h5", ["--seed"]),
    (
        "empty-table",
        "synthetic --out {out}/d.h5 --seed 0 --num-seqs 10 --background-table {ids.tsv}",
        ["ids.tsv"],
    ),
]
MODISCO = [
    ("missing", "modisco --attributions {out}/../none.npz --out-dir {out}/mod", ["none.npz"]),
    ("truncated", "modisco --attributions {truncated.npz} --out-dir {out}/mod", ["truncated.npz"]),
    ("which", "modisco --attributions {attributions.npz} --out-dir {out}/mod --which both", ["--which"]),
    (
        "out-dir-is-file",
        "modisco --attributions {attributions.npz} --out-dir {a_file}",
        ["--out-dir", "a_file"],
    ),
]
FIGURE = [
    ("unknown", "figure fig9_everything --out-pdf {out}/f.pdf", ["fig9_everything"]),
    (
        "sequence",
        "figure fig3a_patch --attributions {attributions.npz} --data {data.h5} --architecture a "
        "--activation b --out-pdf {out}/f.pdf --out-png {out}/f.png --sequence 99",
        ["attributions.npz", "sequence"],
    ),
    (
        "truncated",
        "figure fig3a_patch --attributions {truncated.npz} --data {data.h5} --architecture a "
        "--activation b --out-pdf {out}/f.pdf --out-png {out}/f.png",
        ["truncated.npz"],
    ),
    (
        "missing-table",
        "figure fig4a_large_angles --angles {out}/../none.tsv --out-pdf {out}/f.pdf --out-png {out}/f.png",
        ["none.tsv"],
    ),
    (
        "png-suffix",
        "figure fig4a_large_angles --angles {metrics.tsv} --out-pdf {out}/f.pdf --out-png {out}/f.pdf",
        ["--out-png", ".png"],
    ),
    ("no-outputs", "figure fig2_correction --metrics {metrics.tsv} --method saliency", ["--out-pdf"]),
]
MANIFEST = [
    ("missing", "encode-manifest --table {out}/../none.tsv --out {out}/m.tsv", ["none.tsv"]),
    (
        "columns",
        "encode-manifest --table {manifest_columns.tsv} --out {out}/m.tsv",
        ["manifest_columns.tsv", "column"],
    ),
    ("out-under-file", "encode-manifest --table {manifest_columns.tsv} --out {a_file}/m.tsv", ["--out"]),
]
# Issue 43: no input overwritten (through links too), maps checked against their sequences, sizes that
# cannot be allocated, and the smaller ones (inputs that are not files, negative seeds, complex maps, ...).
CORRECT_INPUTS = [
    ("report-is-in", "correct --in {maps.npy} --out {out}/c.npy --report {maps.npy}", ["--report", "--in"]),
    (
        "report-is-in-by-link",
        "correct --in {maps.npy} --out {out}/c.npy --report {link_to_maps.npy}",
        ["--report", "link_to_maps.npy", "--in"],
    ),
    (
        "report-is-link-target",
        "correct --in {link_to_maps.npy} --out {out}/c.npy --report {maps.npy}",
        ["--report", "--in"],
    ),
    (
        "out-is-one-hot",
        "correct --in {maps.npy} --one-hot {x.npy} --out {x.npy}",
        ["--out", "x.npy", "--one-hot"],
    ),
    (
        "out-is-one-hot-by-hard-link",
        "correct --in {maps.npy} --one-hot {x.npy} --out {hard_x.npy}",
        ["--out", "hard_x.npy", "--one-hot"],
    ),
    (
        "report-is-one-hot",
        "correct --in {maps.npy} --one-hot {x.npy} --out {out}/c.npy --report {x.npy}",
        ["--report", "x.npy", "--one-hot"],
    ),
    ("in-is-stdin", "correct --in - --out {out}/c.npy", ["--in -", "standard input"]),
    ("in-is-dev-null", "correct --in /dev/null --out {out}/c.npy", ["--in /dev/null", "not a regular file"]),
    ("in-is-folder", "correct --in {folder.npy} --out {out}/c.npy", ["--in", "folder.npy", "is a folder"]),
    (
        "one-hot-is-folder",
        "correct --in {maps.npy} --one-hot {folder.npy} --out {out}/c.npy",
        ["--one-hot", "folder.npy", "is a folder"],
    ),
    (
        "one-hot-missing",
        "correct --in {maps.npy} --one-hot {out}/../none.npy --out {out}/c.npy",
        ["--one-hot", "none.npy", "not found"],
    ),
    ("out-is-dev-null", "correct --in {maps.npy} --out /dev/null", ["--out /dev/null"]),
    ("complex-maps", "correct --in {complex.npy} --out {out}/c.npy", ["complex.npy", "complex"]),
    ("truncated-npy", "correct --in {truncated.npy} --out {out}/c.npy", ["truncated.npy", "truncated"]),
    ("object-npy", "correct --in {objects.npy} --out {out}/c.npy", ["objects.npy", "Python objects"]),
    ("nan-in-a-late-block", "correct --in {nan_late.npy} --out {out}/c.npy", ["nan_late.npy", "NaN"]),
]
NOT_OVER_INPUTS = [
    (
        "angles-out-is-data",
        ANGLES[0][1]
        .replace("{out}/../none.keras", "{model.keras}")
        .replace("--out {out}/a.tsv", "--out {x.npy}"),
        ["--out", "x.npy", "--data"],
    ),
    (
        "angles-out-is-model",
        ANGLES[0][1]
        .replace("{out}/../none.keras", "{model.keras}")
        .replace("--out {out}/a.tsv", "--out {model.keras}"),
        ["--out", "model.keras", "--model"],
    ),
    ("collect-out-is-table", "collect --tables {metrics.tsv} --out {metrics.tsv}", ["--out", "--tables"]),
    (
        "collect-out-is-a-later-table",
        "collect --tables {metrics.tsv} {seeds.tsv} --out {seeds.tsv}",
        ["--out", "seeds.tsv", "--tables"],
    ),
    (
        "summarize-out-is-metrics",
        "summarize --metrics {metrics.tsv} --out {metrics.tsv}",
        ["--out", "--metrics"],
    ),
    (
        "manifest-out-is-table",
        "encode-manifest --table {manifest_columns.tsv} --out {manifest_columns.tsv}",
        ["--out", "--table"],
    ),
    (
        "genome-out-is-input",
        "prepare-genome --fasta-gz {seeds.tsv} --out {seeds.tsv}",
        ["--out", "--fasta-gz"],
    ),
    (
        "import-out-is-weights",
        "import-weights --weights {model.keras} --out {model.keras} --architecture cnn_shallow",
        ["--out", "--weights"],
    ),
]
EVALUATE = "evaluate --data {data.h5} --classification {metrics.json} --out-metrics {out}/m.tsv"
EVALUATE += " --out-angles {out}/a.tsv"
FIG3 = "--data {data.h5} --architecture a --activation b --out-pdf {out}/f.pdf --out-png {out}/f.png"
MATCHED = [
    ("other-dataset", EVALUATE + " --attributions {other_attributions.npz}",
     ["{other_attributions.npz}", "{data.h5}", "differ"]),
    ("rows-outside", EVALUATE + " --attributions {rows_attributions.npz}",
     ["{rows_attributions.npz}", "{data.h5}", "rows"]),
    ("other-length", EVALUATE + " --attributions {long_attributions.npz}",
     ["{long_attributions.npz}", "{data.h5}", "shape"]),
    (
        "out-is-attributions",
        EVALUATE.replace("{out}/m.tsv", "{attributions.npz}") + " --attributions {attributions.npz}",
        ["--out-metrics", "--attributions"],
    ),
    (
        "out-is-classification",
        EVALUATE.replace("{out}/a.tsv", "{metrics.json}") + " --attributions {other_attributions.npz}",
        ["--out-angles", "--classification"],
    ),
    ("fig3a-other-dataset", "figure fig3a_patch --attributions {other_attributions.npz} " + FIG3,
     ["{other_attributions.npz}", "{data.h5}"]),
    ("fig3c-other-dataset", "figure fig3c_motif_angles --attributions {other_attributions.npz} " + FIG3,
     ["{other_attributions.npz}", "{data.h5}"]),
    ("fig3d-rows-outside", "figure fig3d_background_angles --attributions {rows_attributions.npz} " + FIG3,
     ["{rows_attributions.npz}", "{data.h5}"]),
]  # fmt: skip
SMALLER = [
    (
        "synthetic-huge",
        "synthetic --out {out}/d.h5 --seed 0 --num-seqs 1000000000000",
        ["--num-seqs 1000000000000", "memory"],
    ),
    (
        "synthetic-long",
        "synthetic --out {out}/d.h5 --seed 0 --num-seqs 1000000 --length 10000000",
        ["--length 10000000", "memory"],
    ),
    ("synthetic-seed-negative", "synthetic --out {out}/d.h5 --seed -1 --num-seqs 10", ["--seed", "-1"]),
    ("attribute-seed-negative", ATTRIBUTE + " --method expected_gradients --seed -1", ["--seed", "-1"]),
    (
        "train-seed-negative",
        "train --data {data.h5} --out {out}/run --architecture cnn_shallow --seed -3",
        ["--seed", "-3"],
    ),
    ("ensemble-seeds-negative", ENSEMBLE + " --out-template {out}/s{{seed}} --seeds -3", ["--seeds", "-3"]),
    (
        "modisco-seed-negative",
        "modisco --attributions {attributions.npz} --out-dir {out}/m --seed -1",
        ["--seed"],
    ),
    (
        "train-two-label-columns",
        "train --data {two_labels.h5} --out {out}/run --architecture cnn_shallow --epochs 1",
        ["two_labels.h5", "y_train", "(N, 1)"],
    ),
]
CASES = [
    pytest.param(argv, fragments, id=f"{argv.split()[0]}:{name}")
    for table in (
        CORRECT_INPUTS,
        NOT_OVER_INPUTS,
        MATCHED,
        SMALLER,
        CORRECT,
        ANGLES,
        ATTRIBUTE_CASES,
        TRAIN,
        ENSEMBLE_CASES,
        SYNTHETIC,
        MODISCO,
        FIGURE,
        MANIFEST,
    )
    for name, argv, fragments in table
]


def filled(text: str, inputs: dict[str, Path], out: Path) -> str:
    return re.sub(r"(?<!\{)\{([\w.]+)\}(?!\})", lambda m: str(out if m[1] == "out" else inputs[m[1]]),
                  text).replace("{{", "{").replace("}}", "}")  # fmt: skip


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if not path.is_dir())


@pytest.mark.parametrize("argv, fragments", CASES)
def test_bad_input_is_one_line_exit_2_and_no_output(argv, fragments, inputs, tmp_path, caplog, capsys):
    out = tmp_path / "out"
    out.mkdir()
    arguments = filled(argv, inputs, out).split()
    before = snapshot(inputs)
    caplog.clear()
    try:
        code = cli.main(arguments)
    except SystemExit as stopped:  # argparse
        code = stopped.code
    stderr = capsys.readouterr().err
    lines = [line for line in stderr.splitlines() if line.strip()] + [
        record.getMessage() for record in caplog.records if record.levelno >= 30
    ]
    assert code == 2, (code, lines)
    assert "Traceback" not in stderr and all("\n" not in line for line in lines), lines
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert filled(fragment, inputs, out) in lines[0], (fragment, lines[0])
    assert files_in(out) == [] and files_in(tmp_path) == [], files_in(tmp_path)
    assert unchanged(inputs, before), "an input was written"


def snapshot(inputs: dict[str, Path]) -> dict[str, tuple]:
    return {
        name: (path.is_symlink(), path.stat().st_ino, path.stat().st_size, path.stat().st_mtime_ns)
        for name, path in inputs.items()
        if path.exists()
    }


def unchanged(inputs: dict[str, Path], before: dict[str, tuple]) -> bool:
    return snapshot(inputs) == before


# (case id, the user's config file, fragments, whether Snakemake itself runs: a dry-run takes seconds, so
# the others check the same line in this process, merged as Snakemake merges the files)
CONFIGS = [
    ("unknown-key", "modles: 3\n", ["unknown top-level key 'modles'"], True),
    ("wrong-type", "results: 3\n", ["results", "not of type 'string'"], True),
    ("unknown-nested-key", "models:\n  num_seed: 3\n", ["unknown key in 'models' 'num_seed'"], False),
    ("out-of-range", "models:\n  num_seeds: -1\n", ["models.num_seeds", "-1"], False),
    ("bad-pattern", "synthetic:\n  jaspar_release: J2016\n", ["synthetic.jaspar_release", "J2016"], False),
    ("zero-epochs", "training:\n  epochs: 0\n", ["training.epochs", "0"], False),
    ("repeated-item", "models:\n  architectures: [cnn_deep, cnn_deep]\n", ["models.architectures"], False),
]


@pytest.mark.parametrize("name, text, fragments, snakemake", CONFIGS, ids=[case[0] for case in CONFIGS])
def test_bad_config_is_one_line_naming_key_and_file(name, text, fragments, snakemake, tmp_path):
    out = tmp_path / "results"
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"results: {out}\n{text}")
    if snakemake:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "snakemake"), "-n", "--configfile", str(config)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        code, stderr = result.returncode, result.stderr
    else:
        from simplexgrad._config import config_problem
        from snakemake.utils import update_config

        default = ROOT / "config" / "config.yaml"
        merged = yaml.safe_load(default.read_text())
        update_config(merged, yaml.safe_load(config.read_text()))
        schema = ROOT / "workflow" / "schemas" / "config.schema.yaml"
        code, stderr = 2, f"config error: {config_problem(merged, schema, [default, config])}\n"
    assert code == 2, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert len(stderr.splitlines()) <= 3, stderr  # no schema dump
    assert errors[0].startswith(f"config error: {config}:"), errors[0]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert not out.exists()


def test_a_valid_config_has_no_problem():
    from simplexgrad._config import config_problem

    schema = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    assert config_problem(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()), schema) is None


def test_the_table_is_large_enough():
    assert len(CASES) + len(CONFIGS) >= 130


@pytest.mark.parametrize("source", [".npy", ".npz", ".h5", ".hdf5"])
@pytest.mark.parametrize("suffix", [".npy", ".npz", ".h5", ".hdf5", ".txt", ".NPY", ""])
def test_every_suffix_correct_accepts_round_trips(source, suffix, tmp_path, caplog):
    """Each suffix is either refused (one line, nothing written) or gives a readable file equal to
    ``simplexgrad.correct`` of the input; what is accepted is the input's own format."""
    maps = np.random.default_rng(3).normal(size=(4, 9, 4)).astype(np.float32)
    source_path = tmp_path / f"in{source}"
    if source == ".npy":
        np.save(source_path, maps)
    elif source == ".npz":
        np.savez(source_path, maps=maps, other=np.arange(3))
    else:
        with h5py.File(source_path, "w") as handle:
            handle["group/maps"] = maps
    key = {".npy": [], ".npz": ["--key", "maps"]}.get(source, ["--key", "group/maps"])
    out = tmp_path / "out" / f"corrected{suffix}"
    code = cli.main(["correct", "--in", str(source_path), "--out", str(out), *key])
    same = suffix.lower() == source or {suffix, source} <= {".h5", ".hdf5"}
    if not same:
        assert code == 2
        assert not out.parent.exists() or files_in(out.parent) == []
        return
    assert code == 0 and files_in(tmp_path / "out") == [out.name]
    corrected, _ = read_array(out, key[-1] if key else None)
    np.testing.assert_allclose(corrected, correct(maps), atol=1e-6)
    if source == ".npz":
        np.testing.assert_array_equal(read_array(out, "other")[0], np.arange(3))


def test_a_writer_that_appends_a_suffix_is_caught_not_reported(tmp_path):
    """What numpy does with a path without its suffix: the atomic write fails instead of renaming an
    empty temporary file into place, and leaves nothing behind."""
    with pytest.raises(RuntimeError, match="instead of the temporary file"):
        with atomic_output(tmp_path / "c.npz") as temporary:
            np.save(temporary, np.zeros(3))  # writes <temporary>.npy
    assert list(tmp_path.iterdir()) == []


def test_help_of_figure_and_attribute_defaults(capsys):
    for argv in (["figure", "--help"], ["figure"]):
        with pytest.raises(SystemExit) as stopped:
            cli.main(argv)
        assert stopped.value.code == 0
        assert "per-sequence % of positions" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["attribute", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, default in [("steps", 20), ("num-samples", 25), ("sigma", 0.1), ("num-references", 10),
                            ("seed", 0)]:  # fmt: skip
        assert re.search(rf"--{option} {option.upper().replace('-', '_')} .*?\(default: {default}\)", text)
    method_options = text.split("options:")[1].split("--baseline {")[1]
    assert "(default: shuffle)" in method_options and "(default: None)" not in method_options


def test_seed_ranges_and_lists():
    from simplexgrad._arguments import _int_or_range

    assert _int_or_range("0-49") == list(range(50))
    assert _int_or_range("7") == [7] and _int_or_range("-3") == [-3]
    argv = "train-ensemble --data d.h5 --out-template m/s{seed} --architecture cnn_shallow --seeds 0-2 7 9-10"
    _, arguments = cli._parse(argv.split())
    assert arguments["seeds"] == [0, 1, 2, 7, 9, 10]


def test_layout_hint_for_a_torch_style_array(model32):
    from simplexgrad import saliency
    from simplexgrad.attribution._points import check_queries

    x = random_onehot(np.random.default_rng(0), 3, 50)
    with pytest.raises(ValueError, match=r"x looks like \(N, 4, L\), shape \(3, 4, 50\): pass layout='NAL'"):
        check_queries(None, np.swapaxes(x, 1, 2), 8, "NLA")  # a torch module states no input shape
    with pytest.raises(ValueError, match=r"x looks like \(N, L, 4\), shape \(3, 50, 4\): pass layout='NLA'"):
        check_queries(None, x, 8, "NAL")
    with pytest.raises(ValueError, match="swap its last two axes"):
        saliency(model32, np.swapaxes(random_onehot(np.random.default_rng(0), 3, 30), 1, 2))


def test_fig3a_labels_the_maps_with_the_recorded_method(inputs, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    from simplexgrad import figures
    from simplexgrad.plots import common, synthetic

    labels = []  # the track labels; no logo is drawn
    monkeypatch.setattr(synthetic, "logo_track", lambda axis, values, start, label: labels.append(label))
    monkeypatch.setattr(common, "save_figure", lambda figure, pdf, png: plt.close(figure))
    maps = np.random.default_rng(0).normal(size=(6, LENGTH, 4)).astype(np.float32)
    with h5py.File(inputs["data.h5"]) as handle:
        x = handle["x_test"][()]  # the maps explain the dataset's sequences, as the figure checks
    attributions = tmp_path / "ig.npz"
    save_attributions(
        attributions,
        maps,
        correct(maps),
        x,
        np.arange(6),
        {"method": "integrated_gradients", "split": "test"},
    )
    figures.fig3a_patch(str(attributions), str(inputs["data.h5"]), "cnn_deep", "relu",
                        str(tmp_path / "f.pdf"), str(tmp_path / "f.png"))  # fmt: skip
    assert "integrated\ngradients\n(raw)" in labels and not any("saliency" in label for label in labels)


def test_a_gzip_file_and_the_corrupt_inputs_are_what_they_claim(inputs):
    """The table's corrupt inputs really are corrupt in the intended way (else the cases test nothing)."""
    import zlib

    with pytest.raises(zlib.error), np.load(inputs["bad_member.npz"]) as archive:
        archive["maps"]
    with h5py.File(inputs["bad_chunk.h5"]) as handle, pytest.raises(OSError):
        handle["maps"][()]
    assert os.path.getsize(inputs["empty.npy"]) == 0
