"""Running Quantum ESPRESSO executables and turning their faults into typed errors.

A run is one executable (pw.x, ph.x, q2r.x, matdyn.x) on one input file in one working
directory, under an optional MPI launcher and a wall-time limit. Every fault becomes a
:class:`QEError` whose ``kind`` a workflow can act on:

- ``missing_executable``   the program is not on PATH / in ``bin_dir``
- ``walltime``             killed after ``timeout_s`` (the whole process group)
- ``scf_not_converged``    "convergence NOT achieved" in the output
- ``relax_not_converged``  a relax or vc-relax stopped at ``nstep`` ionic steps (pw.x exits with code 3)
- ``crashed``              a QE error block (%%%%) or a non-zero exit; the QE message is kept
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["QEError", "QERun", "QERunner", "qe_error_message"]

_ERR_BLOCK = re.compile(r"%{20,}\s*\n(.*?)\n\s*%{20,}", re.S)
_VERSION = re.compile(r"Program \w+ v\.(\S+)")


class QEError(RuntimeError):
    """A failed QE step: ``kind`` (see module doc), ``step`` and the QE message."""

    def __init__(self, kind: str, step: str, message: str):
        super().__init__(f"{step}: {kind}: {message}")
        self.kind, self.step, self.message = kind, step, message

    def as_dict(self) -> dict:
        return {"kind": self.kind, "step": self.step, "message": self.message}


@dataclass
class QERun:
    step: str
    executable: str
    wall_s: float
    cpu_s: float
    output: Path
    version: str | None


@lru_cache(maxsize=8)
def pw_version(bin_dir: str | None = None) -> str | None:
    """Version of pw.x (e.g. '6.7MaX') from its banner, or None when it is not installed."""
    exe = shutil.which("pw.x", path=bin_dir) if bin_dir else shutil.which("pw.x")
    if not exe:
        return None
    try:  # with no input pw.x stops at once, leaving CRASH and input_tmp.in behind: keep them out of the cwd
        with tempfile.TemporaryDirectory(prefix="hts_pw_version_") as scratch:
            out = subprocess.run([exe], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, cwd=scratch).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _VERSION.search(out)
    return m.group(1) if m else None


def qe_error_message(text: str) -> str | None:
    """The text of the last QE error block (``Error in routine ...``), or None."""
    blocks = _ERR_BLOCK.findall(text)
    if not blocks:
        return None
    return " ".join(line.strip() for line in blocks[-1].strip().splitlines())


@dataclass
class QERunner:
    """Launches QE programs: ``mpi_command`` is a template such as ``mpirun -np {nprocs}``.

    ``npool`` > 1 splits the k points of pw.x and ph.x into that many pools (``-nk``); for small
    cells with many k points this scales better than plane-wave division (H3S scf, 2 cores: 1.2x).
    """

    bin_dir: str | None = None
    mpi_command: str = "mpirun -np {nprocs}"
    nprocs: int = 1
    timeout_s: float | None = None
    npool: int = 1

    def executable(self, name: str) -> str:
        path = shutil.which(name, path=self.bin_dir) if self.bin_dir else shutil.which(name)
        if not path:
            where = f"in {self.bin_dir}" if self.bin_dir else "on PATH"
            raise QEError("missing_executable", name, f"{name} not found {where} (install quantum-espresso or set tc.qe_bin_dir)")
        return path

    def command(self, name: str) -> list[str]:
        exe = self.executable(name)
        launcher = self.mpi_command.format(nprocs=self.nprocs) if self.nprocs > 1 and self.mpi_command else ""
        pools = ["-nk", str(self.npool)] if self.npool > 1 and name in ("pw.x", "ph.x") else []
        return [*shlex.split(launcher), exe, *pools]

    def run(self, name: str, input_file: Path, workdir: Path, step: str | None = None,
            timeout_s: float | None = None) -> QERun:
        """Run ``name < input_file`` in ``workdir``; output goes to ``<input stem>.out``."""
        step = step or name
        cmd = self.command(name)
        workdir = Path(workdir)
        out = workdir / (Path(input_file).stem + ".out")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
        limit = timeout_s if timeout_s is not None else self.timeout_s
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        with open(input_file) as fin, open(out, "w") as fout:
            proc = subprocess.Popen(cmd, stdin=fin, stdout=fout,
                                    stderr=subprocess.STDOUT, cwd=workdir, env=env, start_new_session=True)
            try:
                rc = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise QEError("walltime", step, f"{name} killed after {limit:g} s wall time") from None
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        text = out.read_text(errors="replace")
        msg = qe_error_message(text)
        if "convergence NOT achieved" in text:
            line = next(ln.strip() for ln in text.splitlines() if "convergence NOT achieved" in ln)
            raise QEError("scf_not_converged", step, line)
        if "The maximum number of steps has been reached" in text and not msg:
            raise QEError("relax_not_converged", step, f"{name}: the maximum number of ionic steps (nstep) was reached")
        if msg or rc != 0:
            tail = " | ".join(text.strip().splitlines()[-3:])
            raise QEError("crashed", step, msg or f"{name} exited with code {rc}: {tail}")
        ver = _VERSION.search(text)
        return QERun(step, name, round(wall, 2), round((cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime), 2),
                     out, ver.group(1) if ver else None)
