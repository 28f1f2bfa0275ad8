"""DESIGN §1 import boundaries, checked on the source text (AST), not at run time.

- ``model`` imports nothing of ours and nothing that does I/O, reads a clock or
  draws randomness.
- ``impl`` never imports ``model`` or ``properties``; its sans-IO cores (all of
  ``impl`` except the live drivers in ``impl/live``) import no ``asyncio``,
  ``socket`` or ``time``; ``os.urandom`` is called in ``impl/entropy.py`` only.
- ``properties`` may import both: it is the only place they meet.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = {"model": "vpnha.model", "impl": "vpnha.impl", "properties": "vpnha.properties"}
IO_MODULES = {"asyncio", "socket", "time", "selectors", "threading", "subprocess"}
MODEL_FORBIDDEN = IO_MODULES | {"os", "random", "secrets", "cryptography", "datetime"}


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    parts[0] = PACKAGE_DIRS[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """Absolute names of every module imported by ``path`` (relative ones resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name, node.lineno
            for alias in node.names:
                yield f"{name}.{alias.name}", node.lineno


def _urandom_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr == "urandom") or (
            isinstance(node, ast.ImportFrom) and any(a.name == "urandom" for a in node.names)
        ):
            lines.append(node.lineno)
    return lines


def _top(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


def test_every_package_has_sources() -> None:
    for folder in PACKAGE_DIRS:
        assert _sources(folder), f"{folder}/ has no Python files"


@pytest.mark.parametrize("path", _sources("model"), ids=lambda p: str(p.relative_to(ROOT)))
def test_model_imports_nothing_of_ours_and_no_io(path: Path) -> None:
    for name, line in _imports(path):
        where = f"{path.relative_to(ROOT)}:{line} imports {name}"
        if name.startswith("vpnha"):
            assert name.startswith("vpnha.model"), where
        assert _top(name) not in MODEL_FORBIDDEN, where


@pytest.mark.parametrize("path", _sources("impl"), ids=lambda p: str(p.relative_to(ROOT)))
def test_impl_never_imports_model_or_properties(path: Path) -> None:
    for name, line in _imports(path):
        where = f"{path.relative_to(ROOT)}:{line} imports {name}"
        assert not name.startswith(("vpnha.model", "vpnha.properties")), where
        assert _top(name) not in {"model", "properties"}, where


@pytest.mark.parametrize("path", _sources("impl"), ids=lambda p: str(p.relative_to(ROOT)))
def test_impl_cores_do_no_io(path: Path) -> None:
    rel = path.relative_to(ROOT)
    if rel.parts[:2] == ("impl", "live"):
        return  # the asyncio drivers are allowed their sockets and clocks
    for name, line in _imports(path):
        assert _top(name) not in IO_MODULES, f"{rel}:{line} imports {name}"
    if rel != Path("impl/entropy.py"):
        assert not _urandom_calls(path), f"{rel} calls os.urandom outside impl/entropy.py"


def test_layering_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself must be able to fail (a test that cannot fail proves nothing)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nfrom os import urandom\nx = urandom\n")
    names = {name for name, _ in _imports_of_file(bad)}
    assert "time" in names
    assert _urandom_calls(bad)


def _imports_of_file(path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.lineno
