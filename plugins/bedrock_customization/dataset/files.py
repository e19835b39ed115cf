"""Temporary output files that are hashed as they are written and published by an atomic rename.

A :class:`PartialFile` lives in the output directory under a hidden name ending in ``.partial``
(``.train.jsonl.3f9c01a2b4d6.partial``), so it can never be mistaken for a result, and becomes the result only
through :meth:`PartialFile.publish` (``os.replace``). Lines are gathered into blocks of :data:`BLOCK_BYTES`;
given an executor, a block is hashed and written on its thread (both calls release the GIL) while the caller
fills the next ones, with at most :data:`BLOCKS_IN_FLIGHT` blocks waiting per file so memory stays bounded.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from concurrent.futures import Executor, Future
from pathlib import Path

from bedrock_customization.dataset.report import OutputFile

__all__ = ["BLOCK_BYTES", "PARTIAL_SUFFIX", "PartialFile"]

#: Suffix of temporary files (which are also hidden: their names start with a dot).
PARTIAL_SUFFIX = ".partial"
#: Bytes gathered before a block is hashed and written.
BLOCK_BYTES = 1 << 20
#: Blocks handed to the executor and not yet written, at most, per file.
BLOCKS_IN_FLIGHT = 3


class PartialFile:
    """A hidden temporary file, counted, hashed (SHA-256) and written block by block.

    After :meth:`discard` it stops writing but keeps counting, so a failing run can still report sizes.
    """

    def __init__(self, directory: Path, name: str, executor: Executor | None = None) -> None:
        self.name = name
        self.records = 0
        self.bytes = 0
        self.writing = True
        self._block = bytearray()
        self._executor = executor
        self._pending: deque[Future[None]] = deque()
        self._sha256 = hashlib.sha256()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        while True:  # like mkstemp (exclusive, random name), but with the umask's usual permissions
            self.path = directory / f".{name}.{os.urandom(6).hex()}{PARTIAL_SUFFIX}"
            try:
                fd = os.open(self.path, flags, 0o666)
                break
            except FileExistsError:
                continue
        self._file = os.fdopen(fd, "wb", buffering=0)

    def write(self, data: bytes) -> None:
        self.records += 1
        self.bytes += len(data)
        if self.writing:
            self._block += data
            if len(self._block) >= BLOCK_BYTES:
                self._flush()

    def _flush(self) -> None:
        block, self._block = self._block, bytearray()
        if self._executor is None:
            self._sink(block)
            return
        self._pending.append(self._executor.submit(self._sink, block))
        while len(self._pending) > BLOCKS_IN_FLIGHT:
            self._pending.popleft().result()

    def _sink(self, block: bytearray) -> None:
        self._sha256.update(block)
        view = memoryview(block)
        while view:
            view = view[self._file.write(view) :]

    def _wait(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def discard(self) -> None:
        """Stop writing and remove the file (counting goes on)."""
        if self.writing:
            self.writing = False
            self._block = bytearray()
            try:
                self._wait()
            except Exception:  # the file is being thrown away: its write error does not matter
                pass
            self._file.close()
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def publish(self, final: Path) -> OutputFile:
        """Write what is left, close, and rename onto ``final``; returns the file's description."""
        if self._block:
            self._flush()
        self._wait()
        self._file.close()
        os.replace(self.path, final)
        self.writing = False
        return OutputFile(self.name, self.records, self.bytes, self._sha256.hexdigest())
