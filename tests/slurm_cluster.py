"""A real one-node SLURM for tests: munged (as user munge), slurmctld -D and slurmd -D under setsid,
a slurm.conf in a temporary directory, every daemon stopped by its recorded PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")

CONF = """ClusterName=hts
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
SlurmctldPort={port}
SlurmdPort={port2}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=2000
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def available() -> str | None:
    """None if a one-node SLURM can be started here, else why not."""
    missing = [d for d in DAEMONS if not shutil.which(d) and not Path(f"/usr/sbin/{d}").exists()]
    if missing:
        return f"SLURM/munge not installed ({missing}); `make setup` installs slurmctld slurmd slurm-client munge"
    if os.geteuid() != 0:
        return "starting slurmctld/slurmd/munged needs root here"
    return None


class OneNodeSlurm:
    def __init__(self, workdir: Path):
        self.dir = Path(workdir)
        self.pids: dict[str, int] = {}
        self.conf = self.dir / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.dir / f"{name}.stdout", "w")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        self.pids[name] = p.pid
        (self.dir / f"{name}.pid.recorded").write_text(str(p.pid))

    def start(self, timeout_s: float = 60.0) -> None:
        host = socket.gethostname().split(".")[0]
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        cpus = os.cpu_count() or 1
        port = 16817 + os.getpid() % 1000
        self.conf.write_text(CONF.format(host=host, d=self.dir, cpus=cpus, mem=2000 * cpus, port=port, port2=port + 1))
        if subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:  # no munged answering yet
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            self._spawn("munged", ["runuser", "-u", "munge", "--", "/usr/sbin/munged", "-F"])
            self._wait(lambda: subprocess.run(["munge", "-n"], capture_output=True).returncode == 0, 20, "munged")
        self._spawn("slurmctld", ["/usr/sbin/slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", ["/usr/sbin/slurmd", "-D", "-f", str(self.conf)])
        self._wait(lambda: "idle" in self.run(["sinfo", "-h", "-o", "%T"]).stdout, timeout_s, "an idle node in sinfo")

    def run(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True, env={**self.env, **kw.pop("env", {})}, **kw)

    def queue_empty(self) -> bool:
        return self.run(["squeue", "-h"]).stdout.strip() == ""

    def _wait(self, ok, timeout_s: float, what: str) -> None:
        t = time.time()
        while time.time() - t < timeout_s:
            if ok():
                return
            time.sleep(0.5)
        logs = {p.name: p.read_text()[-1500:] for p in self.dir.glob("*.log")}
        raise TimeoutError(f"no {what} after {timeout_s:.0f} s; logs: {logs}")

    def stop(self) -> None:
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.get(name)
            if pid:
                try:
                    os.killpg(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        time.sleep(1)
        for pid in self.pids.values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
