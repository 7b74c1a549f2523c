"""An allow-list unpickler for the published hand_dapg files (untrusted input).

``pickle.load`` executes whatever callable a file names. The hand_dapg demonstrations are plain numpy pickles and
the expert policies are mjrl objects pickled with torch 0.4-era classes; :func:`safe_load` reads both without
importing mjrl, without ``torch.load`` and without calling anything the file chooses:

- numpy arrays, dtypes and scalars are rebuilt by rrl's own small functions (plain, non-object dtypes only);
- ``collections.OrderedDict`` and a few builtin containers are admitted as they are;
- ``mjrl.*`` and ``torch.nn.*`` names (and ``torch._C._VariableFunctions``) become :class:`InertObject`
  subclasses that only record their constructor arguments and pickled state;
- torch tensors are rebuilt as numpy arrays: ``torch.storage._load_from_bytes`` payloads (the legacy
  ``torch.save`` stream: magic number, protocol, sys info, a pickle whose persistent ids name storages, then the
  raw storage bytes) are parsed here, storages become numpy buffers and ``torch._utils._rebuild_tensor(_v2)`` /
  ``_rebuild_parameter`` become bounds-checked strided views of them.

Any other global raises :class:`ForbiddenGlobalError` naming it (e.g. ``posix.system``) before anything runs.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np


class ForbiddenGlobalError(pickle.UnpicklingError, ValueError):
    """The pickle names a global that is not on the allow-list; nothing from it was executed."""


class CorruptPickleError(pickle.UnpicklingError, ValueError):
    """The file is not a complete, well-formed pickle of the expected kind (truncated, damaged, wrong format)."""


class InertObject:
    """Stand-in for a class or function named in a pickle. Records what the file passed; runs nothing.

    ``args``: positional arguments of the call/``__new__`` that created it; ``state``: what ``BUILD`` set
    (usually the original object's ``__dict__``). ``qualname`` (class attribute) is the name in the file.
    """

    qualname: str = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> InertObject:
        obj = object.__new__(cls)
        obj.args = args
        obj.kwargs = kwargs
        obj.state = None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # arguments already recorded by __new__
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def attr(self, name: str) -> Any:
        """Entry ``name`` of the pickled ``__dict__`` (KeyError naming the class when absent)."""
        if not isinstance(self.state, dict) or name not in self.state:
            raise KeyError(f"{self.qualname} object in the pickle has no attribute {name!r}")
        return self.state[name]

    def __repr__(self) -> str:
        return f"<inert {self.qualname}>"


# Storage class name -> numpy dtype (little endian), for the legacy torch serialisation.
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_LEGACY_PROTOCOL = 1001
_SAFE_BUILTINS = {"set": set, "frozenset": frozenset, "complex": complex, "slice": slice}
_MAX_ARRAY_BYTES = 1 << 30


class _SafeCallable:
    """Wraps an allowed rebuild function so that the pickle cannot mutate it (BUILD on it is refused)."""

    __slots__ = ("fn", "name")

    def __init__(self, fn: Any, name: str) -> None:
        self.fn, self.name = fn, name

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __setstate__(self, state: Any) -> None:
        raise CorruptPickleError(f"the pickle tries to set state on the function {self.name}; refusing")

    def __reduce__(self) -> Any:
        raise TypeError("rrl's safe unpickler functions cannot be pickled")


class _StorageType:
    """Marker for ``torch.<X>Storage`` in a persistent id: only knows its numpy dtype."""

    def __init__(self, name: str) -> None:
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A torch storage as a flat numpy buffer (filled after the pickle that references it)."""

    def __init__(self, dtype: np.dtype, size: int) -> None:
        self.array = np.zeros(size, dtype=dtype)


def _not_callable(*args: Any) -> Any:
    raise CorruptPickleError("numpy.ndarray may only appear as the subtype argument of _reconstruct")


_NDARRAY = _SafeCallable(_not_callable, "numpy.ndarray")


def _check_plain_dtype(dtype: np.dtype) -> np.dtype:
    if dtype.hasobject:
        raise CorruptPickleError(f"object arrays are not accepted in these files (found dtype {dtype})")
    return dtype


def _np_dtype(obj: Any, align: bool = False, copy: bool = False) -> np.dtype:
    if not isinstance(obj, str):
        raise CorruptPickleError(f"numpy.dtype expects a type string, found {type(obj).__name__}")
    return _check_plain_dtype(np.dtype(obj, align=bool(align), copy=bool(copy)))


def _np_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not _NDARRAY:
        raise CorruptPickleError(f"only plain numpy.ndarray may be rebuilt, found {subtype!r}")
    shape = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
    dt = _check_plain_dtype(np.dtype(dtype)) if isinstance(dtype, (str, bytes, np.dtype)) else None
    if dt is None or any(s < 0 for s in shape) or int(np.prod(shape)) * dt.itemsize > _MAX_ARRAY_BYTES:
        raise CorruptPickleError(f"bad numpy array header: shape {shape}, dtype {dtype!r}")
    return np.ndarray.__new__(np.ndarray, shape, dt)


def _np_frombuffer(buf: Any, dtype: Any, shape: Any, order: str = "C") -> np.ndarray:
    """numpy's protocol-5 array rebuild (``numeric._frombuffer``) for in-band buffers."""
    if not isinstance(buf, (bytes, bytearray)) or not isinstance(dtype, np.dtype) or order not in ("C", "F"):
        raise CorruptPickleError("numpy _frombuffer expects (bytes, dtype, shape, 'C'|'F')")
    _check_plain_dtype(dtype)
    return np.frombuffer(buf, dtype=dtype).reshape(tuple(int(s) for s in shape), order=order).copy()


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or not isinstance(data, bytes):
        raise CorruptPickleError("numpy scalar expects (dtype, bytes)")
    _check_plain_dtype(dtype)
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _strided_view(storage: Any, offset: int, size: Any, stride: Any) -> np.ndarray:
    """numpy view of ``storage`` with torch's (offset, size, stride) in elements, checked to stay in bounds."""
    if not isinstance(storage, _Storage):
        raise CorruptPickleError(f"tensor rebuild expects a storage, found {type(storage).__name__}")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size + stride):
        raise CorruptPickleError(f"bad tensor geometry: offset {offset}, size {size}, stride {stride}")
    buf = storage.array
    if 0 not in size:
        last = offset + sum((n - 1) * st for n, st in zip(size, stride))
        if last >= buf.size:
            raise CorruptPickleError(f"tensor (offset {offset}, size {size}) overruns its storage of {buf.size}")
    elif offset > buf.size:
        raise CorruptPickleError(f"tensor offset {offset} beyond its storage of {buf.size}")
    base = buf[offset:]
    return np.lib.stride_tricks.as_strided(base, shape=size, strides=tuple(s * buf.itemsize for s in stride))


def _rebuild_tensor(storage: Any, storage_offset: int, size: Any, stride: Any, *_: Any) -> np.ndarray:
    return _strided_view(storage, int(storage_offset), size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any = None, backward_hooks: Any = None) -> np.ndarray:
    if not isinstance(data, np.ndarray):
        raise CorruptPickleError(f"parameter rebuild expects a tensor, found {type(data).__name__}")
    return data


def _latin1_encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes (``encode(str, "latin1")``); nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CorruptPickleError(f"_codecs.encode is only accepted as encode(str, 'latin1'), got encoding {encoding!r}")
    return text.encode("latin1")


def _load_from_bytes(data: Any) -> Any:
    if not isinstance(data, (bytes, bytearray)):
        raise CorruptPickleError("torch.storage._load_from_bytes expects bytes")
    return load_legacy_torch_stream(io.BytesIO(bytes(data)))


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose :meth:`find_class` admits only the allow-list described in the module doc.

    ``persistent_load`` is active only inside a legacy torch stream (``storages`` given): it turns
    ``('storage', <X>Storage, key, location, size, view)`` ids into :class:`_Storage` buffers.
    """

    def __init__(
        self,
        file: Any,
        source: str = "<pickle>",
        storages: dict[str, _Storage] | None = None,
        max_storage_bytes: int = 0,
    ) -> None:
        super().__init__(file)
        self.source = source
        self.storages = storages
        self.max_storage_bytes = max_storage_bytes
        self._inert: dict[str, type] = {}

    def _inert_class(self, qualname: str) -> type:
        if qualname not in self._inert:
            short = qualname.rsplit(".", 1)[-1] or "Inert"
            self._inert[qualname] = type(short, (InertObject,), {"qualname": qualname, "__module__": __name__})
        return self._inert[qualname]

    def _safe_getattr(self, owner: Any, name: Any, *default: Any) -> Any:
        inert_owner = isinstance(owner, InertObject) or (isinstance(owner, type) and issubclass(owner, InertObject))
        if not inert_owner or not isinstance(name, str):
            raise ForbiddenGlobalError(
                f"{self.source}: builtins.getattr is only allowed on inert stand-ins, found getattr({owner!r}, "
                f"{name!r}); refusing to load"
            )
        return self._inert_class(f"{owner.qualname}.{name}")

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - see class doc
        if (module, name) in _compat_pickle.NAME_MAPPING:  # Python 2 names, as pickle.Unpickler maps them
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return _SafeCallable(_np_reconstruct, full)
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
            return _SafeCallable(_np_scalar, full)
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _SafeCallable(_np_frombuffer, full)
        if full == "numpy.ndarray":
            return _NDARRAY
        if full == "numpy.dtype":
            return _SafeCallable(_np_dtype, full)
        if full == "collections.OrderedDict":
            return collections.OrderedDict
        if module == "builtins" and name in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[name]
        if full == "_codecs.encode":
            return _SafeCallable(_latin1_encode, full)
        if full == "builtins.getattr":
            return _SafeCallable(self._safe_getattr, full)
        if full in ("torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2"):
            return _SafeCallable(_rebuild_tensor, full)
        if full == "torch._utils._rebuild_parameter":
            return _SafeCallable(_rebuild_parameter, full)
        if full == "torch.storage._load_from_bytes":
            return _SafeCallable(_load_from_bytes, full)
        if module == "torch" and name in _STORAGE_DTYPES and self.storages is not None:
            return _StorageType(name)
        if module == "mjrl" or module.startswith(("mjrl.", "torch.nn.")) or full == "torch._C._VariableFunctions":
            return self._inert_class(full)
        raise ForbiddenGlobalError(
            f"{self.source}: the pickle references the global {full!r}, which is not on rrl's allow-list "
            "(numpy arrays, torch tensor storages, OrderedDict, mjrl/torch.nn classes as inert holders). "
            "Refusing to load it: unpickling it normally could run arbitrary code. If the file is genuine, "
            "convert it in a trusted environment."
        )

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102 - see class doc
        if self.storages is None:
            raise CorruptPickleError(f"{self.source}: unexpected persistent id {pid!r} outside a torch stream")
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise CorruptPickleError(f"{self.source}: unsupported persistent id {pid!r} (expected a torch storage)")
        _, stype, key, _location, size, view = pid
        if not isinstance(stype, _StorageType) or not isinstance(key, str) or not isinstance(size, int):
            raise CorruptPickleError(f"{self.source}: malformed storage id {pid!r}")
        if view is not None:
            raise CorruptPickleError(f"{self.source}: storage views are not supported (id {pid!r})")
        if key not in self.storages:
            if size < 0 or size * stype.dtype.itemsize > self.max_storage_bytes:
                raise CorruptPickleError(f"{self.source}: storage size {size} larger than the stream")
            self.storages[key] = _Storage(stype.dtype, size)
        return self.storages[key]


def _load_plain(stream: io.BytesIO, source: str) -> Any:
    """A header pickle of the torch stream: must contain no globals at all."""

    class _NoGlobals(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            raise ForbiddenGlobalError(f"{source}: global {module}.{name!r} in a torch stream header")

    return _NoGlobals(stream).load()


def load_legacy_torch_stream(stream: io.BytesIO, source: str = "<torch stream>") -> Any:
    """Parse a legacy (pre-zip) ``torch.save`` stream; tensors come back as numpy arrays."""
    try:
        magic = _load_plain(stream, source)
        protocol = _load_plain(stream, source)
        sys_info = _load_plain(stream, source)
        if magic != _TORCH_LEGACY_MAGIC or protocol != _TORCH_LEGACY_PROTOCOL:
            raise CorruptPickleError(f"{source}: not a legacy torch stream (magic {magic!r}, protocol {protocol!r})")
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
            raise CorruptPickleError(f"{source}: only little-endian torch streams are supported")
        storages: dict[str, _Storage] = {}
        remaining = len(stream.getbuffer()) - stream.tell()
        result = SafeUnpickler(stream, source=source, storages=storages, max_storage_bytes=remaining).load()
        keys = _load_plain(stream, source)
        if not isinstance(keys, list) or set(keys) != set(storages):
            raise CorruptPickleError(f"{source}: storage key list {keys!r} does not match the pickled storages")
        for key in keys:
            buf = storages[key].array
            head = stream.read(8)
            if len(head) != 8:
                raise CorruptPickleError(f"{source}: truncated storage {key!r}")
            (count,) = struct.unpack("<q", head)
            if count != buf.size:
                raise CorruptPickleError(f"{source}: storage {key!r} holds {count} elements, expected {buf.size}")
            raw = stream.read(count * buf.itemsize)
            if len(raw) != count * buf.itemsize:
                raise CorruptPickleError(f"{source}: truncated storage {key!r}")
            buf[:] = np.frombuffer(raw, dtype=buf.dtype)
        return result
    except (EOFError, pickle.UnpicklingError, struct.error) as err:
        if isinstance(err, (ForbiddenGlobalError, CorruptPickleError)):
            raise
        raise CorruptPickleError(f"{source}: damaged torch stream ({err})") from err


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the allow-list (see module doc). Raises ForbiddenGlobalError / CorruptPickleError."""
    stream = io.BytesIO(data)
    try:
        result = SafeUnpickler(stream, source=source).load()
    except (ForbiddenGlobalError, CorruptPickleError):
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, AttributeError, struct.error) as err:
        raise CorruptPickleError(
            f"{source}: not a complete pickle of the expected kind ({type(err).__name__}: {err}). The file may be "
            "truncated or damaged; fetch it again from the hand_dapg release."
        ) from err
    if stream.read(1):
        raise CorruptPickleError(f"{source}: trailing bytes after the pickle; the file is damaged")
    return result


def safe_load(path: str | Path) -> Any:
    """Read and unpickle the file at ``path`` with the allow-list (FileNotFoundError when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pickle file not found: {path}")
    return safe_loads(path.read_bytes(), source=str(path))
