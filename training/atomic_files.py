"""Write files so that readers see the old content or the new, never a truncated mix."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from classifiers.errors import UserInputError
from training import stop_requests


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, else those `open()` would give a new file (0o666 less the umask)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        # The umask can only be read by setting it; it is put back at once.
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_texts_atomically(files: Mapping[Path, str]) -> None:
    """Write every file in full to a temporary sibling, then move all of them into place.

    Nothing is replaced until every temporary file is written, so a failure part-way leaves the previous outputs
    untouched and no stray temporary files. A stop (Ctrl-C, SIGTERM) during the moves takes effect once all are made:
    only a kill, a crash or a refused move (whose error says so) between two moves can leave some files new and others
    old. Each file's folder must exist: none is made. The files keep their permissions, and new ones get the usual ones
    (mkstemp's private 0600 would survive the move).
    """
    staged: list[tuple[str, Path]] = []
    moved: list[Path] = []
    path: Path | None = None
    try:
        for path, text in files.items():
            if path.is_dir():
                raise UserInputError(f"cannot write {path}: it is a folder")
            # The system would say only "No such file or directory", or "Not a directory" where a folder on the way is
            # a file.
            existing = next(folder for folder in (path.parent, *path.parent.parents) if folder.exists())
            if not existing.is_dir():
                raise UserInputError(f"cannot write {path}: {existing} is a file, not a folder")
            if existing != path.parent:
                # Not made, as no command's output folder is (`score`'s included): more often a mistyped path than a
                # new folder, and a failure would leave it behind empty.
                raise UserInputError(f"cannot write {path}: folder {path.parent} does not exist")
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((tmp, path))
            os.fchmod(fd, _mode_for(path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        # Held while the files move: raised between two moves, a stop left a set of files (ingest's segments and
        # articles) half replaced.
        with stop_requests.held():
            for tmp, path in staged:
                os.replace(tmp, path)
                moved.append(path)
    # A folder that cannot be made or written to, or a full disk, is the user's to mend: named in one line.
    except OSError as err:
        message = f"cannot write {path}: {err.strerror or err}"
        if moved:
            # A move refused after another was made (a sticky folder's file of another user) leaves the set half new.
            verb = "is" if len(moved) == 1 else "are"
            message += (
                f", and {', '.join(map(str, moved))} {verb} replaced already: "
                "the files no longer belong together, run the command again"
            )
        raise UserInputError(message) from err
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
