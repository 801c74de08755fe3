"""Files for the CLI and the library: bounded reads of regular files, atomic writes, safe output paths.

Every problem a user can cause becomes an InrCodecError with a one-line message that names the path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from inrcodec.errors import InrCodecError

MAX_FILE_BYTES = 1 << 30  # an .inr file larger than 1 GiB is refused rather than read into memory


def read_bytes(path: str | os.PathLike, limit: int = MAX_FILE_BYTES) -> bytes:
    """The whole content of a regular file of at most `limit` bytes; InrCodecError naming the path otherwise
    (a device such as /dev/zero, a pipe, or a file that grows past the limit while it is read)."""
    path = Path(path)
    check_readable_file(path)
    if not path.is_file():
        raise InrCodecError(f"{quote(path)} is not a regular file")
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise InrCodecError(f"cannot read {quote(path)}: {reason(exc)}") from None
    if len(data) > limit:
        raise InrCodecError(f"{quote(path)} is larger than {limit} bytes")
    return data


def check_readable_file(path: Path) -> None:
    if not path.exists():
        raise InrCodecError(f"{quote(path)} does not exist")
    if path.is_dir():
        raise InrCodecError(f"{quote(path)} is a directory, not a file")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part.

    The bytes go to a temporary file in the same directory (os.replace is atomic only within a file system),
    which is removed if anything fails, Ctrl-C included.
    """
    path = Path(path)
    mode = new_file_mode(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)  # mkstemp creates 0600; the user expects the usual permissions
        os.replace(temp_name, path)
    except BaseException:
        remove_quietly(temp_name)
        raise


def new_file_mode(path: Path, full: int = 0o666) -> int:
    """Permissions for a new file (or, with full=0o777, a folder): those of the one it replaces, else full minus
    the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return full & ~umask


def remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def check_output_path(
    path: str | os.PathLike, force: bool, input_path: str | os.PathLike | None = None
) -> None:
    """Refuse an output that would clobber the input, a directory, a missing folder or (without force) a file."""
    path = Path(path)
    if input_path is not None and _same_file(path, Path(input_path)):
        raise InrCodecError(f"output {quote(path)} is the input file; choose another output path")
    if path.is_dir():
        raise InrCodecError(f"output {quote(path)} is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise InrCodecError(f"cannot write {quote(path)}: directory {quote(parent)} does not exist")
    if path.exists() and not force:
        raise InrCodecError(f"{quote(path)} exists; use --force to overwrite")


def _same_file(a: Path, b: Path) -> bool:
    """True when a and b name the same file (links and relative paths included)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def quote(path: Path) -> str:
    return repr(str(path))


def reason(exc: BaseException) -> str:
    """A one-line reason for an exception: strerror for OS errors, else the message (newlines removed)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__

