"""Local AWS emulator: moto 5.2.5 plus our Amazon Bedrock control plane and runtime.

* ``install()`` plugs the extension into moto (idempotent): moto's Bedrock backend is replaced by
  ``bedrock.LocalBedrockBackend`` (state in a moto ``BackendDict``, so ``mock_aws`` start/stop and
  ``POST /moto-api/reset`` clear it) and handler methods are added to moto's ``BedrockResponse`` and
  ``BedrockRuntimeResponse``. Every other service stays stock moto.
* ``mock()`` is ``install()`` + ``moto.mock_aws()``, for fast in-process boto3 tests.
* ``server.LocalAwsServer`` runs the same thing as an HTTP server; ``python -m include.local_aws``
  runs it in the foreground.
* ``CONFIG`` (see ``config``) holds the delays and failure-injection knobs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .config import CONFIG, LocalAwsConfig

__all__ = ["CONFIG", "LocalAwsConfig", "install", "mock"]

_install_lock = threading.Lock()
_installed = False


def install() -> None:
    """Plug our Bedrock backend and handlers into moto; safe to call many times."""
    global _installed
    with _install_lock:
        if _installed:
            return
        import moto.bedrock
        import moto.bedrock.models
        import moto.bedrock.responses
        import moto.bedrockruntime.responses

        from . import bedrock, runtime

        # moto.backends.get_backend("bedrock") reads moto.bedrock.bedrock_backends; the response
        # class reads the name from its own module.
        for module in (moto.bedrock, moto.bedrock.models, moto.bedrock.responses):
            module.bedrock_backends = bedrock.bedrock_backends  # type: ignore[attr-defined]
        bedrock.register_handlers(moto.bedrock.responses.BedrockResponse)
        runtime.register_handlers(moto.bedrockruntime.responses.BedrockRuntimeResponse)
        _installed = True


@contextmanager
def mock(**kwargs: Any) -> Iterator[None]:
    """``install()`` then ``moto.mock_aws(**kwargs)``: in-process AWS for boto3 clients."""
    install()
    import moto

    with moto.mock_aws(**kwargs):
        yield
