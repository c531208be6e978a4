"""A real single-node Slurm on localhost for tests, from Debian's slurm-wlm and munge packages (Slurm 22.05
on Debian 12; the packages start nothing, this module starts the daemons).

slurmctld and slurmd run as root with their state, logs and pid files in a temporary folder. The
configuration goes where every Slurm client looks, /etc/slurm (srun inside a job ignores ``SLURM_CONF``);
files that were there are put back by :meth:`LocalSlurm.stop`, except this module's own left by a killed run
(with them every Slurm client, hence every later `snakemake` start, waits 9 s for a controller that is
gone). munged is the Debian package's. Without systemd or cgroups (as on the machines the tests ran on),
jobs are tracked through /proc (proctrack/linuxproc, task/none); there is no accounting database (no sacct).
The node advertises one GPU as a gres backed by /dev/null, so ``--gpus=1`` jobs are scheduled for real
(without a ``File=`` in gres.conf the node is marked invalid and such jobs wait forever).
Daemons are stopped by pid, never by name.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
CONFIG_FOLDER = Path("/etc/slurm")
CONFIG_FILES = ("slurm.conf", "gres.conf")
CLUSTER_NAME = "simplexgrad-test"
GRES_LINE = "Name=gpu Count=1 File=/dev/null"
MUNGE_PID = Path("/run/munge/munged.pid")


def unavailable_reason() -> str | None:
    """Why a local Slurm cannot be brought up here, or None if it can."""
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root to run slurmctld, slurmd and munged"
    if not Path("/etc/debian_version").exists() or shutil.which("apt-get") is None:
        return "needs a Debian-like system (apt-get) to install slurm-wlm and munge"
    return None


def install() -> None:
    """apt-get install slurm-wlm and munge when their daemons are missing."""
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *PACKAGES], check=True, env=environment, capture_output=True
    )


def _daemon(command: list[str], environment: dict) -> None:
    # Detached from our descriptors: a daemon that inherits a pipe keeps a CI runner waiting.
    subprocess.run(
        command,
        check=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        timeout=60,
    )


def _ours(content: bytes) -> bool:
    """Whether a Slurm configuration file is one this module wrote (left behind by a killed test run)."""
    return CLUSTER_NAME.encode() in content or GRES_LINE.encode() in content


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def stop_pid(pid: int, grace_seconds: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_seconds``; returns when the process is gone."""
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)


class LocalSlurm:
    """Start with :meth:`start`, stop with :meth:`stop`; :attr:`environment` reaches the cluster."""

    def __init__(self, folder: Path, partition: str = "debug"):
        self.folder = folder
        self.partition = partition
        self.host = socket.gethostname().split(".")[0]
        self.environment = dict(os.environ)
        self.pids: dict[str, int] = {}
        self._saved: dict[str, bytes | None] = {}

    def _write_configuration(self) -> None:
        for name in ("state", "spool"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        probe = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
        cpus = int(re.search(r"CPUs=(\d+)", probe).group(1))
        memory = int(re.search(r"RealMemory=(\d+)", probe).group(1)) - 512
        folder = self.folder
        CONFIG_FOLDER.mkdir(parents=True, exist_ok=True)
        for name in CONFIG_FILES:
            path = CONFIG_FOLDER / name
            kept = path.read_bytes() if path.exists() else None
            self._saved[name] = None if kept is not None and _ours(kept) else kept
        (CONFIG_FOLDER / "slurm.conf").write_text(
            f"""ClusterName={CLUSTER_NAME}
SlurmctldHost={self.host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
DefMemPerCPU=1000
MpiDefault=none
MailProg=/bin/true
GresTypes=gpu
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} Gres=gpu:1 State=UNKNOWN
PartitionName={self.partition} Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
"""
        )
        (CONFIG_FOLDER / "gres.conf").write_text(f"AutoDetect=off\nNodeName={self.host} {GRES_LINE}\n")

    def _munge_works(self) -> bool:
        encoded = subprocess.run(["munge", "-n"], capture_output=True)
        if encoded.returncode != 0:
            return False
        return subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True).returncode == 0

    def start(self, timeout: float = 60.0) -> None:
        self._write_configuration()
        if not self._munge_works():
            subprocess.run(["install", "-d", "-o", "munge", "-g", "munge", "/run/munge"], check=True)
            _daemon(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], self.environment)
            self.pids["munged"] = _read_pid(MUNGE_PID)
            if not self._munge_works():
                raise RuntimeError("munged started but munge -n | unmunge fails")
        _daemon(["slurmctld", "-c"], self.environment)
        self.pids["slurmctld"] = self._wait_for_pid("slurmctld.pid")
        _daemon(["slurmd"], self.environment)
        self.pids["slurmd"] = self._wait_for_pid("slurmd.pid")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=self.environment
            ).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.3)
        raise RuntimeError(f"the node did not become idle (state {state!r}); see {self.folder}/*.log")

    def _wait_for_pid(self, name: str) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pid = _read_pid(self.folder / name)
            if pid is not None:
                return pid
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not appear; see the logs in {self.folder}")

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still remembers (MinJobAge=600), as ``scontrol show job -o`` fields."""
        output = subprocess.run(
            ["scontrol", "show", "job", "-o"], capture_output=True, text=True, env=self.environment
        ).stdout
        jobs = []
        for line in output.splitlines():
            if line.startswith("JobId="):
                jobs.append(dict(re.findall(r"(\w+)=(\S*)", line)))
        return jobs

    def stop(self) -> None:
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.get(name)
            if pid is not None:
                stop_pid(pid)
        for name, content in self._saved.items():
            path = CONFIG_FOLDER / name
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)

    def stopped(self) -> bool:
        return not any(_alive(pid) for pid in self.pids.values() if pid is not None)
