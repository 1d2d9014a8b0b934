"""Hostile artifacts and archives, built from real torch saves: each would run code, escape
its folder or exhaust memory if a loader trusted it. Loading any of them with the plain
Python tools creates `trap` (the sentinel the tests look for)."""

from __future__ import annotations

import pickle
import shutil
import zipfile
from pathlib import Path

from tests.support import artifacts


def _root(archive: zipfile.ZipFile) -> str:
    return archive.namelist()[0].split("/", 1)[0]


def _copy_with(source: Path, target: Path, extra: dict[str, bytes], replace: bool = False) -> Path:
    """`source`'s members, stored as torch stores them, plus (or instead of) `extra`."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            if replace and info.filename in extra:
                continue
            out.writestr(info, src.read(info.filename))
        for name, data in extra.items():
            out.writestr(zipfile.ZipInfo(name), data)
    return target


def trap_pickle(trap: Path) -> bytes:
    return pickle.dumps(artifacts._Trap(trap), protocol=2)


def torchscript_with_extra_pickle(good: Path, target: Path, trap: Path) -> Path:
    """A genuine TorchScript archive carrying one more pickle beside its own."""
    with zipfile.ZipFile(good) as z:
        root = _root(z)
    return _copy_with(good, target, {f"{root}/extra.pkl": trap_pickle(trap)})


def torchscript_with_poisoned_data(good: Path, target: Path, trap: Path) -> Path:
    """A TorchScript archive whose data.pkl is replaced by a pickle that opens a file."""
    with zipfile.ZipFile(good) as z:
        root = _root(z)
    return _copy_with(good, target, {f"{root}/data.pkl": trap_pickle(trap)}, replace=True)


def torchscript_with_escaping_names(good: Path, target: Path, absolute: bool) -> Path:
    """A TorchScript archive with one more member named `../…` or `/…`."""
    with zipfile.ZipFile(good) as z:
        root = _root(z)
    name = "/tmp/pier-escape" if absolute else f"{root}/../../pier-escape"
    return _copy_with(good, target, {name: b"escaped"})


def torchscript_with_bomb(good: Path, target: Path, unpacked_bytes: int) -> Path:
    """A TorchScript archive with a deflated member that inflates to `unpacked_bytes`."""
    shutil.copyfile(good, target)
    with zipfile.ZipFile(good) as z:
        root = _root(z)
    info = zipfile.ZipInfo(f"{root}/extra/bomb")
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(target, "a") as z, z.open(info, "w", force_zip64=True) as out:
        block = bytes(1024 * 1024)
        for _ in range(unpacked_bytes // len(block)):
            out.write(block)
    return target


def bundle_zip(target: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data)
    return target


def bundle_bomb(target: Path, manifest: bytes, unpacked_bytes: int) -> Path:
    """A bundle whose artifact inflates to far more than any limit, from a small file."""
    with zipfile.ZipFile(target, "w") as z:
        z.writestr("pier.yaml", manifest)
        info = zipfile.ZipInfo("model.pt")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as out:
            block = bytes(1024 * 1024)
            for _ in range(unpacked_bytes // len(block)):
                out.write(block)
    return target


def compression_ratio(path: Path) -> float:
    with zipfile.ZipFile(path) as z:
        return sum(i.file_size for i in z.infolist()) / path.stat().st_size
