"""``python -m include.local_aws --port PORT [--host HOST]``: run the emulator in the foreground.

Prints ``local_aws listening on http://HOST:PORT`` once it accepts connections and exits cleanly on
SIGTERM or SIGINT. Config knobs are read from ``LOCAL_AWS_*`` environment variables (see ``config``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .config import CONFIG
from .server import LocalAwsServer


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m include.local_aws", description="Run the local AWS emulator (moto + Amazon Bedrock)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4566, help="port to bind, 0 for any free port (default 4566)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = LocalAwsServer(args.host, args.port, quiet=not args.verbose).start()
    print(f"local_aws listening on {server.endpoint_url}", flush=True)
    if args.verbose:
        print(f"local_aws config {CONFIG.as_dict()}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
