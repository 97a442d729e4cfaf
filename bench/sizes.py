"""Image sizes: total, above the base, uncompressed and gzip-compressed, per layer.

Uncompressed sizes are the layers' tar sizes as the engine exports them; compressed sizes are
those tars gzipped at the default level, as a registry push would send them.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


class _Counter:
    """A write-only file that counts bytes."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def _gzip_size(fileobj: Any) -> int:
    counter = _Counter()
    with gzip.GzipFile(fileobj=counter, mode="wb", compresslevel=6, mtime=0) as gz:  # type: ignore[arg-type]
        while chunk := fileobj.read(CHUNK):
            gz.write(chunk)
    return counter.n


def _history(tag: str) -> list[dict[str, Any]]:
    """Non-empty layers, oldest first, with the instruction that made each."""
    out = subprocess.run(
        ["podman", "history", "--no-trunc", "--format", "json", tag],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = list(reversed(json.loads(out)))
    return [r for r in rows if r.get("size", 0) > 0]


def _layer_ids(tag: str) -> list[str]:
    out = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{json .RootFS.Layers}}", tag],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return list(json.loads(out))


def measure(tag: str, base: str) -> dict[str, Any]:
    """Sizes of `tag`, split into the base's layers and the layers it adds."""
    base_ids = _layer_ids(base)
    layer_ids = _layer_ids(tag)
    base_matched = layer_ids[: len(base_ids)] == base_ids
    # A base rebuilt since the image was (the offline stand-in is not reproducible byte for
    # byte) has other layer ids: every image here starts FROM the base, so its first layers are
    # the base's whatever their ids.
    base_layers = set(base_ids) if base_matched else set(layer_ids[: len(base_ids)])
    history = _history(tag)
    created_by = [str(h.get("CreatedBy") or h.get("created_by") or "") for h in history]
    # History and RootFS list the same non-empty layers in the same order when the engine built
    # them; if not, fall back to no descriptions rather than wrong ones.
    if len(created_by) != len(layer_ids):
        created_by = [""] * len(layer_ids)
    layers = []
    with tempfile.TemporaryDirectory(prefix="bench-save-") as tmp:
        archive = Path(tmp) / "image.tar"
        subprocess.run(
            ["podman", "save", "--format", "docker-archive", "-o", str(archive), tag],
            check=True,
            capture_output=True,
        )
        with tarfile.open(archive) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            paths = manifest[0]["Layers"]
            for layer_id, path, made_by in zip(layer_ids, paths, created_by, strict=True):
                member = tar.getmember(path)
                in_base = layer_id in base_layers
                entry: dict[str, Any] = {
                    "diff_id": layer_id,
                    "in_base": in_base,
                    "bytes": member.size,
                    "created_by": made_by.replace("/bin/sh -c ", "")
                    .replace("#(nop) ", "")
                    .strip()[:160],
                }
                if not in_base:
                    entry["gzip_bytes"] = _gzip_size(tar.extractfile(member))
                layers.append(entry)
    added = [layer for layer in layers if not layer["in_base"]]
    return {
        "base_matched": base_matched,
        "total_bytes": sum(layer["bytes"] for layer in layers),
        "base_bytes": sum(layer["bytes"] for layer in layers if layer["in_base"]),
        "added_bytes": sum(layer["bytes"] for layer in added),
        "added_gzip_bytes": sum(layer["gzip_bytes"] for layer in added),
        "layers": layers,
    }
