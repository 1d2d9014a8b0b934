"""Checks on an artifact's zip archive that read names, sizes and pickle opcodes only, before
torch sees a byte: escaping paths, zip bombs, unexpected members and pickles that name
anything but TorchScript types and tensor rebuilders are refused, saying which."""

from __future__ import annotations

import io
import pickletools
import re
import zipfile
from pathlib import PurePosixPath

from inference.errors import UnsupportedArtifact

# torch compresses only the TorchScript code and debug tables, which are small; its
# tensors are stored as they are. More inflated bytes than this is a zip bomb.
MAX_INFLATED_BYTES = 64 * 1024 * 1024

# Members of a TorchScript archive of torch 2.x, relative to its root folder: traced modules
# also keep their example inputs (traced_inputs), pickled like data.pkl and checked the same way.
_TORCHSCRIPT_MEMBERS = [
    re.compile(p)
    for p in (
        r"data\.pkl",
        r"constants\.pkl",
        r"version",
        r"byteorder",
        r"\.data/version",
        r"\.data/serialization_id",
        r"data/\d+",
        r"constants/\d+",
        r"traced_inputs\.pkl",
        r"traced_inputs/\d+",
        r"code/[\w./-]+\.py",
        r"code/[\w./-]+\.(debug_pkl|pkl)",
        r"extra/[^/]+",
    )
]

# What a TorchScript pickle may name: its own classes, tensor storages and rebuilders.
_SAFE_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch", "device"),
    ("torch", "Size"),
}
_SAFE_MODULE_PREFIXES = ("__torch__", "torch.jit._pickle")


def check_member_names(archive: zipfile.ZipFile, accepted: str) -> None:
    """Refuse names that would land outside the archive if it were ever extracted."""
    for name in archive.namelist():
        parts = PurePosixPath(name).parts
        if (
            name.startswith(("/", "\\"))
            or "\\" in name
            or "\x00" in name
            or ".." in parts
            or re.match(r"^[A-Za-z]:", name)
        ):
            raise UnsupportedArtifact(
                f"the zip archive names a member outside the archive ({name!r}); {accepted}"
            )


def check_sizes(archive: zipfile.ZipFile, accepted: str) -> None:
    """Refuse a zip bomb from the headers alone, before anything is inflated."""
    inflated = 0
    for info in archive.infolist():
        if info.compress_type == zipfile.ZIP_STORED:
            if info.file_size != info.compress_size:
                raise UnsupportedArtifact(
                    f"member {info.filename!r} declares {info.file_size} bytes but stores "
                    f"{info.compress_size}: a corrupt or forged archive; {accepted}"
                )
            continue
        inflated += info.file_size
    if inflated > MAX_INFLATED_BYTES:
        raise UnsupportedArtifact(
            f"the zip archive holds compressed members that would inflate to {inflated} bytes, "
            f"more than the {MAX_INFLATED_BYTES} torch ever compresses (a zip bomb); {accepted}"
        )


def check_torchscript_members(members: set[str], accepted: str) -> None:
    unexpected = sorted(m for m in members if not any(p.fullmatch(m) for p in _TORCHSCRIPT_MEMBERS))
    if unexpected:
        raise UnsupportedArtifact(
            "this TorchScript archive holds members torch.jit.save does not write "
            f"({', '.join(unexpected[:5])}); {accepted}"
        )


def _safe_global(module: str, name: str) -> bool:
    if module.startswith(_SAFE_MODULE_PREFIXES) or (module, name) in _SAFE_GLOBALS:
        return True
    if module == "torch" and name.endswith("Storage"):
        return True
    return module == "torch._utils" and name.startswith("_rebuild_")


def _globals_of(data: bytes) -> list[tuple[str, str]]:
    """Every (module, name) a pickle would import; raise ValueError on one it hides."""
    found: list[tuple[str, str]] = []
    recent: list[tuple[str, object]] = []  # the ops before this one, memo writes left out
    for op, arg, _ in pickletools.genops(io.BytesIO(data)):
        if op.name in ("GLOBAL", "INST"):
            module, _, name = str(arg).partition(" ")
            found.append((module, name))
        elif op.name == "STACK_GLOBAL":
            # Only a module and a name pushed right before as literals can be read here;
            # anything else (a memo fetch, a computed string) could hide what is imported.
            pushed = recent[-2:]
            if len(pushed) < 2 or not all("UNICODE" in o and isinstance(a, str) for o, a in pushed):
                raise ValueError("an import whose name is not a literal")
            found.append((str(pushed[0][1]), str(pushed[1][1])))
        if op.name not in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
            recent = [*recent[-1:], (op.name, arg)]
    return found


def check_pickles(archive: zipfile.ZipFile, root: str, members: set[str], accepted: str) -> None:
    """TorchScript's unpickler resolves only its own types, but refuse any pickle that names
    something else before it is asked to: the refusal then says what was there."""
    for member in sorted(m for m in members if m.endswith(("pkl", ".debug_pkl"))):
        name = f"{root}/{member}"
        try:
            imports = _globals_of(archive.read(name))
        except Exception as e:  # a truncated or hand-made pickle: genops raises many types
            raise UnsupportedArtifact(f"{member} is not a readable pickle ({e}); {accepted}") from e
        unsafe = [f"{m}.{n}" for m, n in imports if not _safe_global(m, n)]
        if unsafe:
            raise UnsupportedArtifact(
                f"{member} would call {', '.join(sorted(set(unsafe))[:3])} when unpickled; "
                f"Pier never loads pickles that name anything but TorchScript types and "
                f"tensors; {accepted}"
            )
