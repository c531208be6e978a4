"""Sequences from where users keep them (simplexgrad.data.sequences): FASTA files, plain or gzipped, and
BED regions cut from an indexed genome, at the model's input length, with their names; and every refusal
in one line naming the file and the sequence."""

import gzip

import numpy as np
import pytest
from conftest import random_onehot
from simplexgrad.data.sequences import (
    SequenceInput,
    bed_one_hot,
    fasta_one_hot,
    read_fasta,
    read_sequences,
    write_fasta,
)


def test_fasta_plain_and_gzipped_with_names_lowercase_and_unknown_bases(tmp_path, rng):
    x = random_onehot(rng, 6, 130)
    x[2, 5] = 0  # an unknown base
    names = [f"enhancer_{index}" for index in range(6)]
    write_fasta(tmp_path / "seqs.fa", names, x, width=60)  # wrapped lines
    text = (tmp_path / "seqs.fa").read_text()
    soft = text.replace("ACG", "acg").replace(">enhancer_1", ">enhancer_1 some description")
    (tmp_path / "soft.fa").write_text(soft)
    with gzip.open(tmp_path / "seqs.fa.gz", "wt") as handle:
        handle.write(soft)
    for path in ("seqs.fa", "soft.fa", "seqs.fa.gz"):
        found = fasta_one_hot(tmp_path / path, 130)
        np.testing.assert_array_equal(found.x, x)
        assert found.x.dtype == np.float32 and list(found.names) == names
    iupac = tmp_path / "iupac.fa"
    iupac.write_text(">a\nACRYNTkm\n")
    np.testing.assert_array_equal(fasta_one_hot(iupac).x[0].sum(axis=1), [1, 1, 0, 0, 0, 1, 0, 0])


def test_long_sequences_are_centred_and_short_ones_refused_or_padded(tmp_path):
    path = tmp_path / "lengths.fa"
    path.write_text(">long\nAAACCCGGGTTT\n>exact\nACGTACGT\n>short\nGGT\n")
    with pytest.raises(
        ValueError, match=r"lengths.fa: sequence 'short' has 3 nt, shorter .* input of 8.*--pad"
    ):
        fasta_one_hot(path, 8)
    padded = fasta_one_hot(path, 8, pad=True)
    letters = np.array(list("ACGTN"))[np.where(padded.x.sum(-1) > 0, padded.x.argmax(-1), 4)]
    assert ["".join(row) for row in letters] == ["ACCCGGGT", "ACGTACGT", "NNGGTNNN"]
    with pytest.raises(ValueError, match="sequences of 3 to 12 nt; give the model's input length"):
        fasta_one_hot(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">a\nACGT\n>b\nAC1T\n", r"sequence 'b' holds '1' at position 3, not a letter"),
        (">a\nAC-T\n", r"sequence 'a' holds '-' at position 3"),
        (">a\nACGT\n>a\nACGT\n", r":3: sequence name 'a' is given twice \(first on line 1\)"),
        ("ACGT\n>a\nACGT\n", r":1: text before the first '>' header"),
        (">\nACGT\n", r":1: a FASTA header without a name"),
        (">a\n>b\nACGT\n", r"sequence 'a' has no letters"),
        ("", r"no sequences"),
    ],
)
def test_fasta_refusals_name_the_file_and_the_sequence(tmp_path, text, message):
    path = tmp_path / "bad.fa"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"bad.fa.*{message}"):
        read_fasta(path)


def test_a_binary_file_is_not_fasta(tmp_path):
    (tmp_path / "model.fa").write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="model.fa: not a FASTA text file"):
        read_fasta(tmp_path / "model.fa")


@pytest.fixture
def genome(tmp_path, rng):
    pyfaidx = pytest.importorskip("pyfaidx")
    chromosomes = {"chr1": rng.integers(0, 4, 300), "chr2": rng.integers(0, 4, 120)}
    path = tmp_path / "genome.fa"
    path.write_text("".join(f">{name}\n{''.join(np.array(list('ACGT'))[codes])}\n"
                            for name, codes in chromosomes.items()))  # fmt: skip
    pyfaidx.Faidx(str(path)).close()
    return path, chromosomes


def test_bed_windows_are_centred_named_and_cut_from_the_genome(tmp_path, genome):
    path, chromosomes = genome
    bed = tmp_path / "peaks.bed"
    bed.write_text(
        "track name=peaks\n"
        "chr1\t100\t140\tpeak_a\n"  # midpoint 120
        "chr2\t40\t61\n"  # no name: chr2:40-61, midpoint 50
        "chr1\t150\t250\tpeak_c\t0\t.\t1\t1\t1\t10\n"  # summit at 160
    )
    found = bed_one_hot(bed, path, 20)
    assert list(found.names) == ["peak_a", "chr2:40-61", "peak_c"]
    expected = [chromosomes["chr1"][110:130], chromosomes["chr2"][40:60], chromosomes["chr1"][190:210]]
    np.testing.assert_array_equal(found.x.argmax(-1), expected)
    summit = bed_one_hot(bed, path, 20, centre="summit")
    np.testing.assert_array_equal(summit.x[2].argmax(-1), chromosomes["chr1"][150:170])
    through = read_sequences(bed=bed, genome=path, length=20)
    np.testing.assert_array_equal(through.x, found.x)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "chr2\t104\t118\tnear_end\n",
            r"region 'near_end': its 20-nt window chr2:101-121 runs off.*length 120",
        ),
        ("chr1\t0\t4\tat_start\n", r"region 'at_start': its 20-nt window chr1:-8-12 runs off"),
        ("chr3\t0\t40\tx\n", r"chromosome 'chr3' is not in the genome"),
        ("chr1\t0\t40\tsame\nchr1\t50\t90\tsame\n", r"region name 'same' is given 2 times"),
    ],
)
def test_bed_refusals_name_the_region(tmp_path, genome, line, message):
    path, _ = genome
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t100\t140\tfine\n" + line)
    with pytest.raises(ValueError, match=f"regions.bed: {message}"):
        bed_one_hot(bed, path, 20)


def test_a_genome_without_its_index_is_refused(tmp_path, genome):
    path, _ = genome
    path.with_suffix(".fa.fai").unlink()
    (tmp_path / "one.bed").write_text("chr1\t100\t140\n")
    with pytest.raises(ValueError, match=r"genome.fa: no index genome.fa.fai beside it.*samtools faidx"):
        bed_one_hot(tmp_path / "one.bed", path, 20)
    assert not path.with_suffix(".fa.fai").exists()  # refused, not made behind the user's back


def test_the_input_options_are_checked_together(tmp_path):
    (tmp_path / "a.fa").write_text(">a\nACGT\n")
    with pytest.raises(ValueError, match="one of them"):
        read_sequences()
    with pytest.raises(ValueError, match="one of them"):
        read_sequences(sequences=tmp_path / "a.fa", bed="x.bed")
    with pytest.raises(ValueError, match="--bed x.bed: give the genome"):
        read_sequences(bed="x.bed")
    with pytest.raises(ValueError, match="the model states no input length; give it with --length"):
        read_sequences(bed="x.bed", genome="g.fa")
    with pytest.raises(ValueError, match="--length 5: the model takes 4 positions"):
        SequenceInput(sequences=str(tmp_path / "a.fa"), length=5).read(4)
    assert SequenceInput(sequences=str(tmp_path / "a.fa")).read(None).x.shape == (1, 4, 4)
    with pytest.raises(FileNotFoundError, match="missing.fa: file not found"):
        read_fasta(tmp_path / "missing.fa")
