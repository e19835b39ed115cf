"""Installing Debian packages the local runs need (PostgreSQL and Redis for ``make itest``, Chromium for the
browser test) with apt-get, one installation at a time.

``make test`` runs the suite in several pytest-xdist workers, so the itest and the browser test may both
find their packages missing at once; apt-get refuses a second concurrent run (the dpkg and lists locks), so
installs take an exclusive file lock first and the second one waits for the first.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

LOCK_FILE = Path(tempfile.gettempdir()) / "bedrock-customization-apt.lock"


class AptUnavailable(RuntimeError):
    """apt-get cannot install here (no apt-get, or not root)."""


class AptFailed(RuntimeError):
    """apt-get ran and failed."""


def install(packages: Sequence[str], echo=print) -> None:
    """Install ``packages`` with apt-get (update first), waiting for any other installation of ours."""
    if not shutil.which("apt-get") or os.geteuid() != 0:
        raise AptUnavailable(
            f"{' and '.join(packages)} not installed, and apt-get is not usable here (needs root and apt). "
            f"Install them (e.g. `sudo apt-get install {' '.join(packages)}`)."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with LOCK_FILE.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        echo(f"Installing {' '.join(packages)} with apt-get…")
        for argv in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        ):
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            if done.returncode:
                raise AptFailed(
                    f"`{' '.join(argv)}` failed (exit code {done.returncode}): "
                    f"{(done.stdout[-800:] + done.stderr[-800:]).strip()}"
                )
