"""The files of an upload: a pier.yaml and its artifact, or one archive holding both."""

from __future__ import annotations

import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from control_plane.errors import InvalidRequest, PayloadTooLarge

MANIFEST_NAMES = ("pier.yaml", "pier.yml")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
MAX_ARCHIVE_MEMBERS = 64
MANIFEST_SLACK_BYTES = 1024 * 1024
"""Room in an archive for the pier.yaml and small extras beside the artifact."""

EXPECTED = (
    "choose a pier.yaml together with the artifact it names, "
    f"or one archive ({', '.join(ARCHIVE_SUFFIXES)}) holding both"
)


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _member_path(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise InvalidRequest(f"the archive holds a path outside itself ({name!r}); {EXPECTED}")
    return p


def _check_totals(members: int, size: int, limit: int) -> None:
    if members > MAX_ARCHIVE_MEMBERS:
        raise InvalidRequest(
            f"the archive holds {members} files; a pier.yaml and its artifact are expected"
        )
    if size > limit:
        raise PayloadTooLarge(f"the archive unpacks to more than the limit of {limit} bytes")


def _extract_zip(archive: Path, dest: Path, limit: int) -> None:
    with zipfile.ZipFile(archive) as z:
        infos = [i for i in z.infolist() if not i.is_dir()]
        _check_totals(len(infos), sum(i.file_size for i in infos), limit)
        for info in infos:
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InvalidRequest(f"the archive holds a link ({info.filename!r}); {EXPECTED}")
            target = dest / _member_path(info.filename)
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, target.open("wb") as out:
                written = 0
                while chunk := src.read(1024 * 1024):
                    written += len(chunk)
                    if written > info.file_size:  # a lying header: stop at what it declared
                        raise InvalidRequest(f"{info.filename!r} in the archive is corrupt")
                    out.write(chunk)


def _extract_tar(archive: Path, dest: Path, limit: int) -> None:
    with tarfile.open(archive) as t:
        members = t.getmembers()
        files = [m for m in members if m.isfile()]
        if any(not (m.isfile() or m.isdir()) for m in members):
            raise InvalidRequest(f"the archive holds links or devices; {EXPECTED}")
        _check_totals(len(files), sum(m.size for m in files), limit)
        for m in files:
            _member_path(m.name)
        # The "data" filter refuses absolute paths, links out of the tree and special files.
        t.extractall(dest, members=files, filter="data")


def unpack(archive: Path, dest: Path, max_bytes: int) -> None:
    """Extract an uploaded archive into `dest`, refusing anything that escapes it or is huge."""
    limit = max_bytes + MANIFEST_SLACK_BYTES
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, dest, limit)
        else:
            _extract_tar(archive, dest, limit)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        raise InvalidRequest(f"{archive.name} is not a readable archive ({e}); {EXPECTED}") from e


def find_manifest(root: Path, max_bytes: int) -> Path:
    """The pier.yaml among the uploaded files, unpacking a lone archive first."""
    files = [p for p in root.rglob("*") if p.is_file()]
    if len(files) == 1 and is_archive(files[0]):
        archive = files[0]
        unpacked = root / "unpacked"
        unpacked.mkdir()
        unpack(archive, unpacked, max_bytes)
        archive.unlink()
        files = [p for p in unpacked.rglob("*") if p.is_file()]
    # Like `pier push FILE`, any YAML file may be the manifest; pier.yaml wins among several.
    manifests = [p for p in files if p.name.lower() in MANIFEST_NAMES] or [
        p for p in files if p.suffix.lower() in (".yaml", ".yml")
    ]
    if not manifests:
        names = ", ".join(sorted(p.name for p in files)) or "nothing"
        raise InvalidRequest(f"no pier.yaml among the files ({names}); {EXPECTED}")
    if len(manifests) > 1:
        names = ", ".join(sorted(p.name for p in manifests))
        raise InvalidRequest(f"which of {names} describes the version? {EXPECTED}")
    return manifests[0]


def relative(message: str, root: Path) -> str:
    """Name uploaded files as the user knows them, not by the server's temporary path."""
    return message.replace(f"{root.resolve()}/", "").replace(f"{root}/", "")
