"""A real single-node Slurm cluster on this machine, for tests/test_slurm.py.

munged, slurmctld and slurmd run in the foreground as children of the test, with every file
they use (slurm.conf, munge key and socket, state, spool, logs) under one temporary folder,
on free TCP ports; a system munge, if any, is left alone. Slurm's clients (sbatch, squeue,
sinfo, ...) find this cluster through the SLURM_CONF variable of `SlurmCluster.env()`, and
the `srun` inside each job through a symbolic link /etc/slurm/slurm.conf, made for the
cluster's lifetime only where the machine has no Slurm configuration of its own (see
DEFAULT_CONF).

The configuration is the smallest that schedules real jobs: one node (this host) with 2 CPUs,
one default partition, no accounting database (so job states come from squeue, which keeps
finished jobs for MinJobAge seconds), no cgroups (proctrack/linuxproc, task/none).
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
INSTALL_HINT = "apt-get install slurm-wlm munge"
# The daemons live in sbin, which is not on every user's PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
# The Slurm executor plugin's job step (snakemake-executor-plugin-slurm-jobstep) removes every
# SLURM_* variable, SLURM_CONF included, before its `srun` inside the job, so that srun only
# finds a cluster at Slurm's default configuration path: for the test, a symbolic link there
# to the test's slurm.conf (only when the machine has no Slurm configuration of its own).
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
HEADER = "# Single-node test cluster written by tests/slurm_cluster.py"
PARTITION = "debug"
NODE_CPUS = 2
# squeue reports a finished job for MinJobAge seconds: an hour, so that the test still sees
# every job of the run at its end. (The Slurm executor plugin only trusts squeue for job
# states when MinJobAge is at least 3x its first status-check delay.)
MIN_JOB_AGE = 3600


def which(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def missing_daemons() -> list[str]:
    return [name for name in DAEMONS if which(name) is None]


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports nobody listens on now."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def memory_mb() -> int:
    """This machine's memory in MB, from /proc/meminfo."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return f"({path.name}: no such file)"
    return f"--- last lines of {path.name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class SlurmStartError(RuntimeError):
    """The daemons are installed but the cluster did not come up."""


class SlurmUnusable(RuntimeError):
    """This machine cannot host the test cluster (not root, or a Slurm of its own)."""


def ours(conf: Path) -> bool:
    """Whether `conf` is missing, a dangling link, or a test cluster's (left by a killed run)."""
    if not conf.exists():
        return True
    try:
        return conf.read_text(errors="replace").startswith(HEADER)
    except OSError:
        return False


class SlurmCluster:
    """munged + slurmctld + slurmd under `root`; `start()`, `env()` for clients, `stop()`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.logs = self.root / "log"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.processes: dict[str, subprocess.Popen] = {}

    # -- configuration -------------------------------------------------------------------

    def slurm_conf(self) -> str:
        # RealMemory a bit under the machine's, or slurmd reports too little and drains
        real_memory = int(memory_mb() * 0.9)
        controller_port, node_port = free_ports(2)
        root = self.root
        return "\n".join(
            [
                HEADER,
                "ClusterName=gistlm-test",
                f"SlurmctldHost={self.node}(127.0.0.1)",
                f"SlurmctldPort={controller_port}",
                f"SlurmdPort={node_port}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={self.munge_socket}",
                f"StateSaveLocation={root}/state",
                f"SlurmdSpoolDir={root}/spool",
                f"SlurmctldPidFile={root}/slurmctld.pid",
                f"SlurmdPidFile={root}/slurmd.pid",
                f"SlurmctldLogFile={self.logs}/slurmctld.log",
                f"SlurmdLogFile={self.logs}/slurmd.log",
                "SlurmctldDebug=info",
                "SlurmdDebug=info",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "MpiDefault=none",
                "SchedulerType=sched/backfill",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core_Memory",
                "AccountingStorageType=accounting_storage/none",
                "JobAcctGatherType=jobacct_gather/none",
                "JobCompType=jobcomp/none",
                "ReturnToService=2",
                f"MinJobAge={MIN_JOB_AGE}",
                # use the node as configured even where the hardware differs (e.g. 1 CPU)
                "SlurmdParameters=config_overrides",
                f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory={real_memory} State=UNKNOWN",
                f"PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )

    def env(self) -> dict[str, str]:
        """The environment for Slurm clients (and snakemake) to talk to this cluster."""
        env = dict(os.environ, SLURM_CONF=str(self.conf))
        # a client run from inside a Slurm job would otherwise inherit that job's context
        for name in [n for n in env if n.startswith(("SLURM_", "SBATCH_", "SQUEUE_", "SINFO_"))]:
            if name != "SLURM_CONF":
                del env[name]
        return env

    # -- life cycle ----------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        """Start the three daemons and wait (at most `timeout` s) for the node to be idle."""
        if os.geteuid() != 0:
            raise SlurmUnusable("the test Slurm cluster needs root (slurmd runs jobs as root)")
        if not ours(DEFAULT_CONF):
            raise SlurmUnusable(
                f"this machine has a Slurm configuration of its own "
                f"({DEFAULT_CONF}); the test would not start a second cluster"
            )
        # munged refuses group- or other-writable folders on its paths; its socket's folder
        # must be open to every user of the cluster
        for folder, mode in (("munge", 0o755), ("state", 0o700), ("spool", 0o700), ("log", 0o755)):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            (self.root / folder).chmod(mode)
        self.root.chmod(0o755)
        self.conf.write_text(self.slurm_conf())
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
        DEFAULT_CONF.unlink(missing_ok=True)
        DEFAULT_CONF.symlink_to(self.conf)

        self._spawn(
            "munged",
            [
                which("munged"),
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={self.munge_socket}",
                f"--pid-file={self.root}/munge/munged.pid",
                f"--seed-file={self.root}/munge/munged.seed",
            ],
        )
        self._wait(lambda: self.munge_socket.exists(), timeout, "munged to open its socket")
        self._spawn("slurmctld", [which("slurmctld"), "-D", "-c", "-f", str(self.conf)])
        self._spawn("slurmd", [which("slurmd"), "-D", "-f", str(self.conf), "-N", self.node])
        self._wait(self.node_is_idle, timeout, f"node {self.node} to be idle in sinfo")

    def _spawn(self, name: str, command: list[str]) -> None:
        output = open(self.logs / f"{name}.stdout", "w")
        self.processes[name] = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env(),
            start_new_session=True,
        )
        output.close()

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}
            if dead:
                raise SlurmStartError(
                    f"{', '.join(dead)} exited ({dead}) while waiting for {what}\n{self.diagnostics()}"
                )
            if ready():
                return
            time.sleep(0.5)
        raise SlurmStartError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}")

    def client(self, *command: str, timeout: float = 15) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.env(), capture_output=True, text=True, timeout=timeout)

    def node_is_idle(self) -> bool:
        try:
            state = self.client("sinfo", "--noheader", "--Node", "--format=%t", "-n", self.node)
        except subprocess.TimeoutExpired:
            return False
        return state.returncode == 0 and state.stdout.strip() == "idle"

    def diagnostics(self) -> str:
        parts = []
        controller = self.processes.get("slurmctld")
        clients = [["sinfo", "--Node", "--long"], ["squeue", "--states=all"]]
        for command in clients if controller and controller.poll() is None else []:
            try:
                run = self.client(*command, timeout=5)
                parts.append(f"$ {' '.join(command)}\n{run.stdout}{run.stderr}")
            except (subprocess.TimeoutExpired, OSError) as error:
                parts.append(f"$ {' '.join(command)}: {error}")
        # munged in the foreground logs to its stdout only
        for name in ("munged.stdout", "slurmctld.log", "slurmd.log", "slurmctld.stdout", "slurmd.stdout"):
            parts.append(tail(self.logs / name))
        return "\n".join(parts)

    def stop(self) -> None:
        """Cancel every job of the cluster, then stop the daemons (always safe to call)."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            try:
                self.client("scancel", f"--partition={PARTITION}", timeout=10)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    queue = self.client(
                        "squeue", "--noheader", "--states=PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED", timeout=5
                    )
                    if queue.returncode != 0 or not queue.stdout.strip():
                        break
                    time.sleep(0.5)
            except (subprocess.TimeoutExpired, OSError):
                pass
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self.processes.clear()
        if DEFAULT_CONF.is_symlink() and Path(os.readlink(DEFAULT_CONF)) == self.conf:
            DEFAULT_CONF.unlink()

    def __enter__(self) -> "SlurmCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
