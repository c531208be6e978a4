"""The workflow through a real Slurm: profiles/slurm with a local overlay, on a one-node cluster."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from slurm_cluster import LocalSlurm, install, unavailable_reason
from workflow_helpers import REPO, SNAKEMAKE, merged, write_config

pytestmark = pytest.mark.slow

# The tiny study, narrowed to one model and one method: every rule of the synthetic DAG still runs.
TINY_SLURM = {
    "results": "results",
    "synthetic": {"num_seqs": 400, "seed": 2},
    "models": {"architectures": ["cnn_shallow"], "activations": ["relu"], "num_seeds": 1},
    "training": {"epochs": 1, "early_stopping_patience": 1, "lr_patience": 1, "threads": 1},
    "attribution": {"methods": ["saliency"], "num_seqs": 8, "threads": 1},
}
TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no local Slurm: {reason}")
    install()
    slurm = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        slurm.start()
        yield slurm
    finally:
        slurm.stop()
        assert slurm.stopped(), f"daemons still running: {slurm.pids}"


def site_profile(folder: Path) -> Path:
    """profiles/slurm as a site would edit it for the one-node test cluster: its partition names, small
    limits and squeue for job status (tests/slurm_local/config.yaml), everything else untouched."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    site = yaml.safe_load((REPO / "tests" / "slurm_local" / "config.yaml").read_text())
    limits = site.pop("rule-resources")
    for resources in profile["set-resources"].values():
        resources.update({key: value for key, value in limits.items() if key in resources or key in (
            "mem_mb", "runtime")})  # fmt: skip
    target = folder / "slurm_profile"
    target.mkdir(exist_ok=True)
    (target / "config.yaml").write_text(yaml.safe_dump(merged(profile, site)))
    return target


def run_on_slurm(cluster: LocalSlurm, folder: Path, config: Path, *arguments: str):
    """Snakemake with the cluster profile under a timeout that sends SIGINT (SIGTERM would only make it
    wait for running jobs), then SIGKILL 30 s later."""
    environment = {
        **cluster.environment,
        "PATH": f"{Path(sys.executable).parent}:{cluster.environment['PATH']}",
    }
    command = [
        "timeout", "-s", "INT", "-k", "30", str(TIMEOUT_SECONDS),
        *SNAKEMAKE,
        "--directory", str(folder),
        "--configfile", str(config),
        "--workflow-profile", str(site_profile(folder)),
        "--verbose",
        *arguments,
    ]  # fmt: skip
    return subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True)


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm_workflow")
    config = write_config(folder, TINY_SLURM)
    result = run_on_slurm(cluster, folder, config)
    assert result.returncode == 0, result.stderr[-6000:]
    return folder, config, result


def test_every_output_is_built_through_slurm(slurm_run):
    folder, config, _ = slurm_run
    synthetic = folder / "results" / "synthetic"
    expected = [
        synthetic / "data.h5",
        synthetic / "models/cnn_shallow_relu/seed0/model.keras",
        synthetic / "attributions/cnn_shallow_relu/seed0/saliency.npz",
        synthetic / "metrics.tsv",
        synthetic / "angles.tsv",
        synthetic / "summary.tsv",
        *(synthetic / "figures" / f"{name}.{ext}" for name in (
            "fig2_interpretability_saliency", "fig2_correction_saliency", "fig3a_patch_cnn_shallow_relu",
            "fig3c_motif_angles_cnn_shallow_relu", "fig3d_background_angles_cnn_shallow_relu",
            "fig4a_large_angles",
        ) for ext in ("pdf", "png")),
    ]  # fmt: skip
    for path in expected:
        assert path.is_file() and path.stat().st_size > 0, path


def test_every_job_went_through_sbatch_and_training_asked_for_a_gpu(cluster, slurm_run):
    folder, _, result = slurm_run
    calls = [line for line in result.stderr.splitlines() if "sbatch call:" in line]
    assert calls, "no sbatch call in the log"
    training = [call for call in calls if "--comment rule_train_synthetic" in call]
    # one model: one job asking for a GPU (an array of one task)
    assert len(training) == 1 and "--gpus=1" in training[0]
    assert all("--gpus" not in call for call in calls if call not in training)
    assert any("--comment rule_tables" in call for call in calls)  # the grouped table jobs

    logs = folder / ".snakemake" / "slurm_logs"
    rules_with_logs = {path.name for path in logs.iterdir()}
    assert {"rule_synthetic_data", "rule_train_synthetic", "rule_attribute_synthetic"} <= rules_with_logs
    assert all(any(path.rglob("*.log")) for path in logs.iterdir())

    jobs = cluster.jobs()
    submissions = {job.get("ArrayJobId", job["JobId"]) for job in jobs}
    assert len(submissions) == len(calls)
    assert all(job["JobState"] == "COMPLETED" for job in jobs)
    gpu_jobs = [job for job in jobs if "gpu" in job.get("TresPerJob", "")]
    assert len(gpu_jobs) == 1
    assert all(job["Comment"].startswith("rule_train_synthetic") for job in gpu_jobs)


def test_a_failing_rule_fails_the_run(cluster, tmp_path):
    config = write_config(tmp_path, {**TINY_SLURM, "synthetic": {"jaspar_release": "JASPAR1999"}})
    result = run_on_slurm(cluster, tmp_path, config, "results/synthetic/data.h5")
    assert result.returncode not in (0, 124, 137), "the run passed or had to be killed"
    assert not (tmp_path / "results/synthetic/data.h5").exists()
    assert "JASPAR1999" in (tmp_path / "results/logs/synthetic/data.log").read_text()
