"""The layout rules `make lint` holds the tree to: small modules in small folders, short
docstrings, no history of the work in the files, and no reference outside the repository."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("control_plane", "inference")
MAX_MODULE_LINES = 450
MAX_MODULES_IN_FOLDER = 15
MAX_DOCSTRING_LINES = 3
# The one place a run date belongs: the current performance table.
DATED = {"docs/performance.md", "bench/results/latest.md", "bench/results/README-table.md"}
OUTSIDE = re.compile(r"\.\./shared|NOTES-ENV|ORIGINAL-DESCRIPTION|DESIGN\.md")
HISTORY = re.compile(
    r"fresh[- ]clone CI|\bCI run\b|\bthis session\b|\w+(?:teenth|tieth|first|second|third) "
    r"session\b|\bsession's (?:host|machine)\b|profile\.md|results/run-",
    re.IGNORECASE,
)
# Which host ran what belongs beside a measurement, never in code.
HOSTS = re.compile(r"\bEPYC\b|\bXeon\b")
DATE = re.compile(r"\b20\d\d-[01]\d-[0-3]\d\b")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".lua", ".cfg", ".txt", ""}


def tracked() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / n for n in names if (ROOT / n).is_file()]


def docstrings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            text = ast.get_docstring(node)
            if text is not None:
                line = node.body[0].lineno if node.body else 1
                found.append((line, text))
    return found


def problems() -> list[str]:
    found: list[str] = []
    for path in tracked():
        rel = path.relative_to(ROOT).as_posix()
        if path.suffix not in TEXT_SUFFIXES or rel.startswith("scripts/check_tree"):
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{rel}:{number}: refers to a file outside the repository")
            if HISTORY.search(line):
                found.append(f"{rel}:{number}: tells the history of the work: {line.strip()}")
            if path.suffix == ".py" and HOSTS.search(line):
                found.append(f"{rel}:{number}: names a host in code: {line.strip()}")
            if rel not in DATED and not rel.startswith("tests/") and DATE.search(line):
                found.append(f"{rel}:{number}: a date outside the performance table")
        if rel.split("/")[0] in PACKAGES and path.suffix == ".py":
            lines = text.count("\n")
            if lines > MAX_MODULE_LINES:
                found.append(f"{rel}: {lines} lines; split it by responsibility")
            for number, doc in docstrings(ast.parse(text)):
                if len([x for x in doc.splitlines() if x.strip()]) > MAX_DOCSTRING_LINES:
                    found.append(f"{rel}:{number}: docstring over {MAX_DOCSTRING_LINES} lines")
    for package in PACKAGES:
        for folder in [ROOT / package, *(ROOT / package).rglob("*/")]:
            modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
            if len(modules) > MAX_MODULES_IN_FOLDER and "migrations" not in folder.parts:
                rel = folder.relative_to(ROOT)
                found.append(f"{rel}/: {len(modules)} modules; group them into subpackages")
    return found


def main() -> int:
    found = problems()
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
