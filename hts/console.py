"""A quiet console: third-party warnings, model banners and library log records go to a log file, the
console keeps hts's own lines, its progress bars and the summary. ``-v`` shows everything."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from pathlib import Path

__all__ = ["quiet_console"]


class _HtsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "hts" or record.name.startswith("hts.")


@contextlib.contextmanager
def quiet_console(log_file: str | Path, verbose: bool = False):
    """Inside: Python warnings and every logger's records to ``log_file``; print() from libraries (e.g.
    CHGNet's "initialized with N parameters") too, since sys.stdout points at the file. hts's own log
    records at WARNING and above still reach the console (stderr). Yields the log path (None with
    ``verbose``, when nothing is redirected)."""
    if verbose:
        yield None
        return
    path = Path(log_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    old_level, old_handlers = root.level, root.handlers[:]
    console = sys.stderr
    with open(path, "a", buffering=1) as f:
        to_file = logging.StreamHandler(f)
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        to_console = logging.StreamHandler(console)
        to_console.setLevel(logging.WARNING)
        to_console.addFilter(_HtsOnly())
        to_console.setFormatter(logging.Formatter("hts: %(message)s"))
        root.handlers = [to_file, to_console]
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(f):
                warnings.simplefilter("default")
                warnings.showwarning = _to_log
                yield path
        finally:
            logging.captureWarnings(False)
            root.handlers, root.level = old_handlers, old_level


def _to_log(message, category, filename, lineno, file=None, line=None) -> None:
    logging.getLogger("py.warnings").warning("%s:%s: %s: %s", filename, lineno, category.__name__, message)
