"""The engine's side of `quinebox.images`: is the image there and holding this quinebox's guest code, and the build."""

from __future__ import annotations

import io
import re
import tarfile
import threading
from collections import deque
from pathlib import Path
from typing import Any

import docker.errors

from quinebox._image_spec import DIGEST_LABEL, GUEST_DIR, BuildProgress, guest_digest, guest_files, image_name
from quinebox.backends.docker._container import API_TIMEOUT_S, PING_TIMEOUT_S, _client
from quinebox.backends.docker._errors import BUILD_FIX, _detail, map_docker_errors
from quinebox.errors import BackendUnavailable, ImageBuildError, InfraError, UsageError

#: Guest code larger than this in the image is not what quinebox ships.
GUEST_ARCHIVE_CAP = 16 * 1024 * 1024

_checked_images: set[str] = set()
_checked_lock = threading.Lock()


def _check_guest_code(api: Any, container_id: str, image_id: str, image: str) -> None:
    """Refuse an image whose guest code differs from this quinebox's, once per image id and process.

    The supervisor and the host speak one protocol and share flags such as
    --ttl; a stale image would run old guest code silently. The container is
    created but not started, so its files are the image's own.
    """
    with _checked_lock:
        if image_id in _checked_images:
            return
    chunks, _ = api.get_archive(container_id, GUEST_DIR)
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > GUEST_ARCHIVE_CAP:
            break
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(bytes(data)), mode="r:") as archive:
            for member in archive:
                parts = member.name.strip("/").split("/")
                if member.isfile() and len(parts) == 2 and member.size <= GUEST_ARCHIVE_CAP:
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        found[parts[1]] = extracted.read()
    except tarfile.TarError as exc:
        raise BackendUnavailable(f"docker: the guest code in image {image} is unreadable ({exc}); {BUILD_FIX}") from exc
    differing = sorted(name for name, data in guest_files().items() if found.get(name) != data)
    if differing:
        raise BackendUnavailable(
            f"docker: the image {image} holds other guest code than this quinebox ({', '.join(differing)}); {BUILD_FIX}"
        )
    with _checked_lock:
        _checked_images.add(image_id)


def available(image: str | None = None) -> str | None:
    """None when the engine answers within ~2 s and the image is there; else ``"problem; fix"``."""
    try:
        name = image_name(image)
    except UsageError as exc:
        return f"docker: {exc}; set QUINEBOX_IMAGE to an image name or unset it"
    try:
        with map_docker_errors(name):
            api = _client(PING_TIMEOUT_S)
            try:
                api.ping()
                labels = api.inspect_image(name).get("Config", {}).get("Labels") or {}
            finally:
                api.close()
    except InfraError as exc:
        text = str(exc)
        return text if "; " in text else f"{text}; check the engine with `docker info` and its log"
    digest = labels.get(DIGEST_LABEL)
    if digest is not None and digest != guest_digest():
        return f"docker: the image {name} holds older guest code than this quinebox; {BUILD_FIX}"
    return None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def build(
    context: Path,
    tag: str,
    *,
    buildargs: dict[str, str],
    labels: dict[str, str],
    progress: BuildProgress | None = None,
) -> str:
    """Build `context` as `tag` with the engine, without network; return the image id.

    Raises:
        BackendUnavailable: the engine does not answer.
        ImageBuildError: the build failed; the message ends with the tail of the build log.
    """
    tail: deque[str] = deque(maxlen=30)

    def failed(reason: str) -> ImageBuildError:
        hint = (
            " Without a registry, build a local base (scripts/build-base-image.sh) and pass it as the base image."
            if "pull" in reason or "registry" in reason or "no such host" in reason or "manifest" in reason
            else ""
        )
        log = "\n".join(tail)
        return ImageBuildError(f"docker: building {tag} failed: {reason}.{hint}" + (f"\n{log}" if log else ""))

    with map_docker_errors(tag):
        api = _client(API_TIMEOUT_S * 10)
        try:
            try:
                for record in api.build(
                    path=str(context),
                    tag=tag,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    buildargs=buildargs,
                    labels=labels,
                    network_mode="none",
                    decode=True,
                    use_config_proxy=False,
                ):
                    text = _ANSI.sub("", str(record.get("stream") or record.get("status") or ""))
                    for line in text.splitlines():
                        if line.strip():
                            tail.append(line.rstrip())
                            if progress is not None:
                                progress(line.rstrip())
                    if record.get("error"):
                        raise failed(" ".join(str(record["error"]).split()))
            except (docker.errors.APIError, docker.errors.BuildError) as exc:
                raise failed(_detail(exc)) from exc
            return str(api.inspect_image(tag)["Id"])
        finally:
            api.close()
