"""The docker backend itself: one container per session, opened, retired before its time-to-live, and closed."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from typing_extensions import override

from quinebox._image_spec import image_name
from quinebox.backends._supervised import BACKSTOP_S, Channel, SupervisedBackend, longest_run_s
from quinebox.backends.base import RunRequest
from quinebox.backends.docker._channel import DockerChannel
from quinebox.backends.docker._container import (
    API_TIMEOUT_S,
    PING_TIMEOUT_S,
    _client,
    _container_spec,
    _probe_engine,
    _remove,
)
from quinebox.backends.docker._errors import _MAPPED, map_docker_errors
from quinebox.backends.docker._image import _check_guest_code
from quinebox.backends.docker._orphans import _sweep_once
from quinebox.errors import InfraError, UsageError
from quinebox.record import RunResult

TTL_ENV = "QUINEBOX_DOCKER_TTL"
DEFAULT_TTL_S = 3600
#: The host retires a session this long before its supervisor's time-to-live could end it mid-run.
RETIRE_MARGIN_S = 10.0


class DockerBackend(SupervisedBackend):
    """One container from the quinebox image, holding one supervisor, for the whole session."""

    name = "docker"

    def __init__(self, image: str | None = None, *, ttl_s: int | None = None) -> None:
        """Name the image and the time-to-live; nothing touches the engine until `open`.

        Args:
            image: the sandbox image; default QUINEBOX_IMAGE, else ``quinebox-sandbox:latest``.
            ttl_s: seconds a container may live; default QUINEBOX_DOCKER_TTL, else 3600.

        Raises:
            UsageError: QUINEBOX_DOCKER_TTL or QUINEBOX_IMAGE holds an unusable value.
        """
        super().__init__()
        self.image = image_name(image)
        self.ttl_s = ttl_s if ttl_s is not None else _ttl_from_env()
        if self.ttl_s <= 0:
            raise UsageError(f"the docker time-to-live must be positive, got {self.ttl_s}")
        self.container_id: str | None = None
        """The running container, for inspection; None between sessions."""
        self._api: Any = None
        self._retire_at = 0.0

    @property
    @override
    def isolation(self) -> str:
        return (
            "docker container: no network, read-only root, all capabilities dropped, no-new-privileges, "
            "fresh unprivileged uid, memory and process limits"
        )

    @override
    def _start(self) -> Channel:
        with map_docker_errors(self.image):
            if self._api is None:
                self._api = _client(API_TIMEOUT_S)
            api = self._api
            _sweep_once(api)
            image_id = str(api.inspect_image(self.image)["Id"])
            container_id = str(api.create_container(**_container_spec(api, image_id, self.ttl_s))["Id"])
        stream: Any = None
        channel: DockerChannel | None = None
        try:
            with map_docker_errors(self.image):
                _check_guest_code(api, container_id, image_id, self.image)
                # Attached before the start, so that not a byte of the hello is missed.
                stream = api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
                channel = DockerChannel(api, container_id, stream)
                api.start(container_id)
        except BaseException:
            if channel is not None:
                channel.close()  # removes the container; never raises for the engine's sake
            else:
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
                with contextlib.suppress(*_MAPPED):
                    _remove(api, container_id)
            raise
        self.container_id = container_id
        self._retire_at = time.monotonic() + self.ttl_s - RETIRE_MARGIN_S
        return channel

    @override
    def run(self, request: RunRequest) -> RunResult:
        # A supervisor past its time-to-live exits even mid-run, which would read as the candidate's
        # doing; so a session that might reach it during this run is replaced before the run starts.
        if self._channel is not None and time.monotonic() + longest_run_s(request) + BACKSTOP_S > self._retire_at:
            self._drop_channel()
        return super().run(request)

    @override
    def _lost_during_run(self, why: str) -> RunResult:
        """Ask the engine before blaming the candidate: a session lost with the engine is an InfraError."""
        api = self._api
        if api is not None and not self._shut:
            try:
                with map_docker_errors(self.image):
                    _probe_engine(PING_TIMEOUT_S)
                    api.ping()
            except InfraError as exc:
                self._drop_channel()
                raise InfraError(f"docker: the engine went away during a run ({why}): {exc}") from exc
        return super()._lost_during_run(why)

    @override
    def close(self) -> None:
        try:
            super().close()
        finally:
            self.container_id = None
            api, self._api = self._api, None
            if api is not None:
                with contextlib.suppress(*_MAPPED):
                    api.close()


def _ttl_from_env() -> int:
    text = os.environ.get(TTL_ENV)
    if text is None or not text.strip():
        return DEFAULT_TTL_S
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{TTL_ENV}={text!r} is not a whole number of seconds") from None
    if value <= 0:
        raise UsageError(f"{TTL_ENV} must be positive, got {value}")
    return value
