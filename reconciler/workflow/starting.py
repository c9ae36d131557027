"""``reconciler init``'s conductor: write the starter files, never over an existing one."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import UsageError
from reconciler.manifest import display_path
from reconciler.starter import FILES, StarterFile


def init_project(directory: Path) -> tuple[tuple[Path, StarterFile], ...]:
    """Write every starter file into ``directory`` (created if missing); return what was
    written, in order.

    Nothing is written when any of the files already exists (a link counts, even a dangling
    one): the UsageError names each of them.
    """
    targets = tuple((directory / Path(*starter.path.parts), starter) for starter in FILES)
    existing = [path for path, _ in targets if path.exists() or path.is_symlink()]
    if existing:
        names = ", ".join(display_path(path) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise UsageError(f"{names} already {verb}; init never overwrites a file. Nothing was "
                         "written.")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{display_path(directory)} is not a directory. Nothing was written.")
    for path, starter in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x", encoding="utf-8", newline="\n") as handle:  # "x": never replace
                handle.write(starter.text)
        except OSError as exc:
            raise UsageError(f"Cannot write {display_path(path)}: {exc.strerror}.") from exc
    return targets
