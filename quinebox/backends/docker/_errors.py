"""Docker engine errors, translated at the backend's edge into quinebox errors.

Docker SDK, requests and socket errors become `BackendUnavailable` when the
engine or the image is missing (the message names the fix), `ImageBuildError`
for builds, and `SupervisorError`/`InfraError` otherwise. `ERROR_MAP` lists
every docker.errors class, and a test holds it complete.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import docker.errors
import requests

from quinebox.errors import BackendUnavailable, ImageBuildError, InfraError, QuineboxError, SupervisorError

DEFAULT_HOST = "unix:///var/run/docker.sock"
START_FIX = (
    "start it (`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd) or point DOCKER_HOST at it"
)
BUILD_FIX = "run `quinebox image build`"


def _engine_unreachable(detail: str, image: str | None) -> InfraError:
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    return BackendUnavailable(f"docker: the engine does not answer at {host} ({detail}); {START_FIX}")


def _image_missing(detail: str, image: str | None) -> InfraError:
    return BackendUnavailable(f"docker: the sandbox image {image or '(unnamed)'} is missing; {BUILD_FIX}")


def _docker_exception(detail: str, image: str | None) -> InfraError:
    # The SDK wraps a failed first contact (version negotiation) in a bare DockerException.
    if "Error while fetching server API version" in detail:
        return _engine_unreachable(detail, image)
    return InfraError(f"docker: {detail}")


_Factory = Callable[[str, "str | None"], InfraError]

#: Every docker.errors class, most specific first, and what it becomes. A test holds this list complete.
ERROR_MAP: tuple[tuple[type[BaseException], _Factory], ...] = (
    (docker.errors.ImageNotFound, _image_missing),
    (docker.errors.NotFound, lambda d, i: SupervisorError(f"docker: the session's container is gone ({d})")),
    (docker.errors.APIError, lambda d, i: InfraError(f"docker: the engine refused a request ({d})")),
    (docker.errors.BuildError, lambda d, i: ImageBuildError(f"docker: building {i} failed ({d})")),
    (docker.errors.ImageLoadError, lambda d, i: ImageBuildError(f"docker: loading an image failed ({d})")),
    (docker.errors.ContainerError, lambda d, i: SupervisorError(f"docker: the sandbox container failed ({d})")),
    (docker.errors.StreamParseError, lambda d, i: SupervisorError(f"docker: the engine sent a broken stream ({d})")),
    (
        docker.errors.TLSParameterError,
        lambda d, i: BackendUnavailable(f"docker: bad TLS settings ({d}); check DOCKER_TLS_VERIFY, DOCKER_CERT_PATH"),
    ),
    (
        docker.errors.InvalidConfigFile,
        lambda d, i: BackendUnavailable(f"docker: unreadable client config ({d}); fix ~/.docker/config.json"),
    ),
    (
        docker.errors.ContextNotFound,
        lambda d, i: BackendUnavailable(f"docker: no such docker context ({d}); check DOCKER_CONTEXT"),
    ),
    (
        docker.errors.ContextAlreadyExists,
        lambda d, i: BackendUnavailable(f"docker: docker context conflict ({d}); check `docker context ls`"),
    ),
    (
        docker.errors.MissingContextParameter,
        lambda d, i: BackendUnavailable(f"docker: incomplete docker context ({d}); check `docker context ls`"),
    ),
    (
        docker.errors.ContextException,
        lambda d, i: BackendUnavailable(f"docker: unusable docker context ({d}); check `docker context ls`"),
    ),
    (
        docker.errors.InvalidRepository,
        lambda d, i: BackendUnavailable(f"docker: {i!r} is not a valid image name ({d}); set QUINEBOX_IMAGE"),
    ),
    (
        docker.errors.InvalidVersion,
        lambda d, i: BackendUnavailable(f"docker: the engine's API is too old for this request ({d}); upgrade docker"),
    ),
    (docker.errors.InvalidArgument, lambda d, i: InfraError(f"docker: the SDK rejected a request ({d})")),
    (docker.errors.NullResource, lambda d, i: InfraError(f"docker: the SDK rejected a request ({d})")),
    (docker.errors.DeprecatedMethod, lambda d, i: InfraError(f"docker: the SDK rejected a request ({d})")),
    (docker.errors.DockerException, _docker_exception),
    # Transport errors from below the SDK: no engine at the socket, or one that stopped answering.
    (requests.exceptions.ConnectionError, _engine_unreachable),
    (requests.exceptions.Timeout, lambda d, i: InfraError(f"docker: the engine did not answer in time ({d})")),
    (requests.exceptions.RequestException, lambda d, i: InfraError(f"docker: talking to the engine failed ({d})")),
    (OSError, lambda d, i: InfraError(f"docker: talking to the engine failed ({d})")),
)
_MAPPED = tuple(cls for cls, _ in ERROR_MAP)
_MAPPED_OR_INFRA: tuple[type[BaseException], ...] = (*_MAPPED, InfraError)


@contextlib.contextmanager
def map_docker_errors(image: str | None = None) -> Iterator[None]:
    """Turn every docker SDK, requests and OSError exception raised inside into a quinebox `InfraError`.

    Args:
        image: the image the calls concern, named in messages (a missing image names ``quinebox image build``).

    Raises:
        BackendUnavailable: the engine does not answer, the image is missing, or the client is misconfigured.
        ImageBuildError: a build or image load failed.
        SupervisorError: the session's container vanished or sent a broken stream.
        InfraError: anything else the engine or the transport did.
    """
    try:
        yield
    except QuineboxError:
        raise
    except _MAPPED as exc:
        raise translate(exc, image) from exc


def translate(exc: BaseException, image: str | None = None) -> InfraError:
    """The quinebox error for one docker-side exception (see `ERROR_MAP`)."""
    detail = _detail(exc)
    for cls, factory in ERROR_MAP:
        if isinstance(exc, cls):
            return factory(detail, image)
    return InfraError(f"docker: {detail}")


def _detail(exc: BaseException) -> str:
    """One short line about `exc`, free of ``"; "`` so that doctor's problem/fix split stays right."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc) or type(exc).__name__
    line = " ".join(text.split())
    if len(line) > 300:
        line = line[:297] + "..."
    return line.replace("; ", ", ")
