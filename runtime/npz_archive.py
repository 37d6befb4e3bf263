"""Reading ``model.npz``'s members without trusting the archive: every member's `.npy` header
is read and checked (kind, dimensions, shapes that fit together, a size exactly what its shape
needs) before any of its data, so a damaged or hostile archive is one ModelError in bounded
memory, never numpy's or zipfile's own exception, a pickle, or a 2 GB allocation.

Why each check: numpy's ``np.load`` reads a member whatever shape it declares (a 1.9 MB archive
can declare a 1.9 GB array), hands back raw bytes for a member that is not a `.npy`, and takes
the last of two members of one name where another zip reader takes the first."""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np
from numpy.lib import format as npy

from houseprice.core.errors import ModelError

# member -> (dtype kind, number of dimensions)
MEMBERS = {
    "format": ("U", 0),
    "metadata": ("U", 0),
    "order": ("i", 1),
    "n_logged": ("i", 0),
    "log_target": ("b", 0),
    "w1": ("f", 2),
    "w2": ("f", 1),
    "b2": ("f", 1),
}
# hp-export writes the archive uncompressed (np.savez), where unpacked and packed sizes are about
# equal; a deflated copy of float weights shrinks little. More than this many times the archive's
# own size, plus a little for metadata text (UTF-32 in a .npy, which deflates 4x), is a zip bomb.
MAX_UNPACK_RATIO = 8
UNPACK_SLACK = 1 << 20
MAX_METADATA_CHARS = 4 << 20  # 16 MB of UTF-32: far beyond any model's feature names
_HEADER_BYTES = 10_000  # numpy's own limit on a .npy header


def read_members(data: bytes, source: str) -> dict[str, np.ndarray]:
    """Every member of a houseprice model archive as an array; ModelError naming the problem."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = _checked_infos(archive.infolist(), len(data), source)
            headers = {name: _header(archive, info, source) for name, info in infos.items()}
            _check_shapes({name: shape for name, (shape, _, _) in headers.items()}, source)
            return {name: _array(archive, infos[name], headers[name], source) for name in MEMBERS}
    except ModelError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, NotImplementedError (a compression), ...
        raise ModelError(f"{source}: damaged model archive ({_first_line(exc)})") from None


def _checked_infos(
    infos: list[zipfile.ZipInfo], packed: int, source: str
) -> dict[str, zipfile.ZipInfo]:
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if name in by_name:
            raise ModelError(f"{source}: damaged model archive: member {name!r} appears twice")
        if name not in MEMBERS or not info.filename.endswith(".npy"):
            raise ModelError(
                f"{source}: not a houseprice model archive (an unknown member "
                f"{(name if info.filename.endswith('.npy') else info.filename)[:40]!r})"
            )
        by_name[name] = info
    missing = [name for name in MEMBERS if name not in by_name]
    if missing:
        raise ModelError(f"{source}: not a houseprice model archive (no {missing[0]})")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > MAX_UNPACK_RATIO * packed + UNPACK_SLACK:
        raise ModelError(
            f"{source}: damaged model archive: its members unpack to {unpacked:,} bytes from "
            f"{packed:,} (more than {MAX_UNPACK_RATIO}x: refused unread)"
        )
    return by_name


Header = tuple[tuple[int, ...], np.dtype, int]  # shape, dtype, bytes of the header itself


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> Header:
    name = info.filename.removesuffix(".npy")
    with archive.open(info) as member:
        try:
            version = npy.read_magic(member)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = read(member, max_header_size=_HEADER_BYTES)
        except (ValueError, SyntaxError, TypeError, EOFError):
            # numpy's messages quote its parser's objects ("<ast.Call object at 0x...>")
            raise ModelError(f"{source}: damaged model archive: {name} is not a .npy") from None
        offset = member.tell()
    kind, ndim = MEMBERS[name]
    if dtype.kind != kind or len(shape) != ndim or fortran or dtype.hasobject:
        raise ModelError(
            f"{source}: damaged model archive: {name} is {dtype} with {len(shape)} "
            f"dimensions, expected kind {kind!r} with {ndim}"
        )
    if name == "metadata" and dtype.itemsize > 4 * MAX_METADATA_CHARS:
        raise ModelError(f"{source}: damaged model archive: metadata of {dtype.itemsize:,} bytes")
    needed = offset + math.prod(shape) * dtype.itemsize
    if info.file_size != needed:
        raise ModelError(
            f"{source}: damaged model archive: {name} holds {info.file_size:,} bytes, its "
            f"shape {shape} needs {needed:,}"
        )
    return shape, dtype, offset


def _check_shapes(shapes: dict[str, tuple[int, ...]], source: str) -> None:
    """The weights' shapes fit each other: order (F,), w1 (F + 1, H), w2 (H,), b2 (1,), H >= 1."""
    (width,), (rows, hidden) = shapes["order"], shapes["w1"]
    if rows != width + 1 or shapes["w2"] != (hidden,) or shapes["b2"] != (1,) or hidden < 1:
        raise ModelError(
            f"{source}: damaged model archive: weights of shapes {shapes['w1']}, "
            f"{shapes['w2']}, {shapes['b2']} for {width} features"
            + (" (no hidden units)" if hidden < 1 else "")
        )


def _array(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, header: Header, source: str
) -> np.ndarray:
    shape, dtype, offset = header
    with archive.open(info) as member:
        member.read(offset)  # the header, read and checked already
        data = member.read(info.file_size - offset)
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__
