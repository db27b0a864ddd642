"""The session's channel: the container's attached stdin and its multiplexed stdout/stderr."""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections import deque
from typing import Any

from typing_extensions import override

from quinebox.backends._supervised import Channel
from quinebox.backends.docker._container import PING_TIMEOUT_S, _probe_engine, _remove
from quinebox.backends.docker._errors import _MAPPED_OR_INFRA, _detail
from quinebox.errors import BackendUnavailable, SupervisorError

SEND_TIMEOUT_S = 30.0
DIAGNOSTICS_BYTES = 16 * 1024


class DockerChannel(Channel):
    """The attached stdin and multiplexed stdout/stderr of one container.

    Without a tty the engine frames output: an 8-byte header (stream type,
    three zero bytes, big-endian payload size) before each chunk. Stdout
    frames carry the protocol; stderr frames are kept, capped, for error
    messages. Frames are demultiplexed as bytes arrive, so a frame that
    claims a huge size costs nothing until its bytes come, and the line size
    cap applies to the protocol text alone.
    """

    def __init__(self, api: Any, container_id: str, stream: Any) -> None:
        sock = getattr(stream, "_sock", stream)
        if not isinstance(sock, socket.socket):
            raise BackendUnavailable(
                "docker: this DOCKER_HOST transport gives no socket to attach to; use a unix:// or tcp:// DOCKER_HOST"
            )
        self.container_id = container_id
        self._api = api
        self._stream = stream  # holds the HTTP response; dropping it could close the socket under us
        self._sock = sock
        sock.settimeout(SEND_TIMEOUT_S)
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._stdout = bytearray()
        self._scanned = 0
        self._stderr: deque[bytes] = deque()
        self._stderr_bytes = 0
        self._header = bytearray()
        self._kind = 0
        self._remaining = 0
        self._eof = False
        self._closed = False

    @override
    def send(self, data: bytes) -> None:
        if self._closed:
            raise OSError("the docker channel is closed")
        self._sock.sendall(data)

    @override
    def read_line(self, timeout: float, limit: int) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            newline = self._stdout.find(b"\n", self._scanned)
            if newline >= 0:
                line = bytes(self._stdout[:newline])
                del self._stdout[: newline + 1]
                self._scanned = 0
                return line
            self._scanned = len(self._stdout)
            if len(self._stdout) > limit:
                raise SupervisorError(f"docker: the supervisor sent a line longer than {limit} bytes")
            if self._eof or self._closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the supervisor did not answer in time")
            if not self._buffered() and not self._selector.select(remaining):
                continue
            try:
                chunk = self._sock.recv(1 << 20)
            except (TimeoutError, BlockingIOError, InterruptedError):
                continue
            if not chunk:
                self._eof = True
                continue
            self._feed(chunk)

    def _buffered(self) -> bool:
        # A TLS socket may hold decrypted bytes that select() cannot see.
        pending = getattr(self._sock, "pending", None)
        return bool(pending()) if callable(pending) else False

    def _feed(self, chunk: bytes) -> None:
        position = 0
        while position < len(chunk):
            if self._remaining == 0:
                need = 8 - len(self._header)
                self._header += chunk[position : position + need]
                position += need
                if len(self._header) < 8:
                    return
                header, self._header = bytes(self._header), bytearray()
                if header[0] > 3 or header[1:4] != b"\0\0\0":
                    raise SupervisorError("docker: the attach stream is not multiplexed as expected (tty on?)")
                self._kind = header[0]
                self._remaining = int.from_bytes(header[4:8], "big")
                continue
            part = chunk[position : position + self._remaining]
            position += len(part)
            self._remaining -= len(part)
            if self._kind in (0, 1):  # 0 is stdin echoed on stdout, per the engine's docs
                self._stdout += part
            else:
                self._keep_stderr(part)

    def _keep_stderr(self, part: bytes) -> None:
        self._stderr.append(part)
        self._stderr_bytes += len(part)
        while self._stderr_bytes > DIAGNOSTICS_BYTES and len(self._stderr) > 1:
            self._stderr_bytes -= len(self._stderr.popleft())

    @override
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Removal kills the container first, so a reader in another thread sees the stream end
        # rather than a socket closed under it.
        try:
            _probe_engine(PING_TIMEOUT_S)
            _remove(self._api, self.container_id)
        except _MAPPED_OR_INFRA as exc:
            note = f"\nquinebox: could not remove container {self.container_id[:12]}: {_detail(exc)}"
            self._keep_stderr(note.encode())
        # Closing the attach connection also closes the supervisor's stdin (stdin_once): should the
        # removal have failed, an idle supervisor still exits and auto_remove takes the container.
        for thing in (self._stream, self._sock):
            with contextlib.suppress(OSError):
                thing.close()
        self._selector.close()

    @override
    def diagnostics(self) -> str:
        if not self._eof and not self._closed:
            # Give a dying supervisor a moment to finish its traceback.
            with contextlib.suppress(TimeoutError, OSError, SupervisorError):
                self.read_line(0.5, 1 << 20)
        text = b"".join(self._stderr).decode("utf-8", "replace").strip()
        return text.splitlines()[-1] if text else ""
