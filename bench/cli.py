"""What every benchmark's command line starts with: --quick, --keep, and the work
directory that --keep keeps."""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from processes import Stack
from report import log


def common_args(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (database, gunicorn logs) for inspection")
    return parser


def workdir(stack: Stack, keep: bool = False) -> Path:
    path = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    if keep:
        log(f"work directory kept: {path}")
    else:
        stack.callback(shutil.rmtree, path, True)
    return path
