"""The sandbox image: build it, say whether it is ready, and collect what dead sessions left behind.

These are the functions behind ``quinebox image build``, ``quinebox gc`` and the
docker line of ``quinebox doctor``. The docker SDK itself stays fenced in
`quinebox.backends.docker`; this module imports it only when a function here
is called, so importing `quinebox.images` costs nothing. The image's name and
the guest code it must hold live in `quinebox._image_spec`, which the docker
backend imports instead of this module, so the two never import each other.

The build context is generated, not taken from a checkout: a wheel has no
repository, only the guest files as package data (`quinebox._sandbox`). So
the Dockerfile text is kept here (a test holds it equal to the top-level
Dockerfile) and the context is that text plus the packaged guest files. The
image is labelled with a digest of those files, so that a quinebox whose guest
code changed can tell that the image is stale.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from quinebox._image_spec import (
    DEFAULT_IMAGE,
    DIGEST_LABEL,
    IMAGE_ENV,
    BuildProgress,
    guest_digest,
    guest_files,
    image_name,
)
from quinebox._image_spec import GUEST_DIR as GUEST_DIR  # importable from here as before, though not in __all__

#: The top-level Dockerfile, verbatim (tests/backends/test_docker.py keeps the two equal).
DOCKERFILE = """\
# The quinebox sandbox image: the judged languages' interpreters, one unprivileged user and sandbox/.
#
# Default base is the official slim Python image. Without a registry, build a base with
# scripts/build-base-image.sh and pass it in:  --build-arg BASE_IMAGE=quinebox-base:bookworm
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# The user is written with shell builtins because a debootstrap minbase root may lack useradd.
# /box is its home and the working dir; at run time a sized tmpfs is normally mounted over it.
RUN printf 'quinebox:x:10001:10001:quinebox:/box:/usr/sbin/nologin\\n' >>/etc/passwd \\
    && printf 'quinebox:x:10001:\\n' >>/etc/group \\
    && mkdir -p /box \\
    && chown 10001:10001 /box

# The interpreters of the other judged languages; a base from build-base-image.sh has them already.
RUN command -v node >/dev/null && command -v ruby >/dev/null && command -v gcc >/dev/null \\
    || (apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs ruby gcc libc6-dev \\
        && rm -rf /var/lib/apt/lists/*)

# Root-owned and so read-only to the candidate, which is assumed to be able to read it.
COPY sandbox/ /opt/quinebox/sandbox/

LABEL org.quinebox.image=sandbox
# Numeric, so runtimes can check it is non-root without reading the image's /etc/passwd.
USER 10001:10001
WORKDIR /box
ENTRYPOINT ["python3", "-I", "/opt/quinebox/sandbox/supervisor.py"]
"""


def build_image(
    tag: str | None = None,
    *,
    base_image: str | None = None,
    progress: BuildProgress | None = None,
) -> str:
    """Build the sandbox image from this quinebox's own Dockerfile and guest files.

    Args:
        tag: the image to build; default QUINEBOX_IMAGE or ``quinebox-sandbox:latest``.
        base_image: passed as the BASE_IMAGE build argument; without a registry, a local base such as
            ``quinebox-base:bookworm`` (scripts/build-base-image.sh makes one).
        progress: called with each build log line.

    Returns:
        The new image's id (``sha256:...``).

    Raises:
        BackendUnavailable: the engine does not answer.
        ImageBuildError: the build failed; the message ends with the tail of the build log.
    """
    from quinebox.backends import docker as docker_backend

    tag = image_name(tag)
    files = guest_files()
    with tempfile.TemporaryDirectory(prefix="quinebox-image-") as folder:
        context = Path(folder)
        (context / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
        (context / "sandbox").mkdir()
        for name, data in files.items():
            (context / "sandbox" / name).write_bytes(data)
        return docker_backend.build(
            context,
            tag,
            buildargs={"BASE_IMAGE": base_image} if base_image else {},
            labels={DIGEST_LABEL: guest_digest(files)},
            progress=progress,
        )


def image_status(tag: str | None = None) -> str | None:
    """None when the engine answers and the image is there and current; else ``"problem; fix"``.

    The text before the first ``"; "`` is the problem and the rest the fix, as
    ``quinebox doctor`` shows them. An image built by ``quinebox image build``
    carries the digest of its guest files, and a mismatch is reported as
    stale; an image built some other way (scripts/ci-docker-setup.sh) is
    checked file by file when a session opens instead.
    """
    from quinebox.backends import docker as docker_backend

    return docker_backend.available(tag)


def gc(all_: bool = False) -> list[str]:
    """Remove quinebox containers that nobody will close, and return their short ids.

    Args:
        all_: remove every quinebox-labelled container, live sessions of running processes included.

    Without `all_`, a container goes when its owner process is gone (its pid
    is missing or now belongs to a process that started later) or its
    time-to-live is past. This is the sweep every process also runs once, on
    its first docker session.

    Raises:
        BackendUnavailable: the engine does not answer.
        InfraError: the engine refused to list or remove containers.
    """
    from quinebox.backends import docker as docker_backend

    return docker_backend.sweep(all_=all_)


__all__ = [
    "DEFAULT_IMAGE",
    "DIGEST_LABEL",
    "DOCKERFILE",
    "IMAGE_ENV",
    "BuildProgress",
    "build_image",
    "gc",
    "guest_digest",
    "guest_files",
    "image_name",
    "image_status",
]
