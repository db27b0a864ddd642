"""The sandbox image as both its builder and its user know it: its name, and the guest code it must hold.

`quinebox.images` (which builds and checks the image) and the docker backend
(which runs it) both import this leaf, so the docker backend never imports
`quinebox.images` and the import graph stays one-way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from importlib import resources

from quinebox.errors import UsageError

DEFAULT_IMAGE = "quinebox-sandbox:latest"
#: Names the image for every docker session, the doctor and the build; the constructor argument wins.
IMAGE_ENV = "QUINEBOX_IMAGE"
#: Label on images built here: the digest of the guest files inside (see `guest_digest`).
DIGEST_LABEL = "org.quinebox.sandbox-sha256"
#: Where the Dockerfile copies sandbox/ inside the image.
GUEST_DIR = "/opt/quinebox/sandbox"

BuildProgress = Callable[[str], None]
"""Called with each line of the build log, as the engine sends it."""


def image_name(explicit: str | None = None) -> str:
    """The image to use: the explicit name, else QUINEBOX_IMAGE, else the default tag.

    Raises:
        UsageError: QUINEBOX_IMAGE is set but blank.
    """
    if explicit:
        return explicit
    from_env = os.environ.get(IMAGE_ENV)
    if from_env is None:
        return DEFAULT_IMAGE
    if not from_env.strip():
        raise UsageError(f"{IMAGE_ENV} is set but empty; unset it or name an image")
    return from_env.strip()


def guest_files() -> dict[str, bytes]:
    """Every guest-side Python file, by name, as this quinebox ships it."""
    root = resources.files("quinebox._sandbox")
    return {
        entry.name: entry.read_bytes()
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".py") and entry.is_file()
    }


def guest_digest(files: dict[str, bytes] | None = None) -> str:
    """A sha256 over the guest files' names and contents, order-independent."""
    files = guest_files() if files is None else files
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()
