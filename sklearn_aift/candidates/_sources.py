"""Where a CandidateSet's pixels come from: its images, regions, protocol and disk cache."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

from ..augment import AxisProtocol, BoxProtocol, FrameProtocol
from ..io import UnreadableImageError, read_image, verify_image
from ..utils import check_image, check_window


# --------------------------------------------------------------------------- CandidateSet
_KEY_VERSION = "v1"
_CACHE_VERSION = 1


def _default_protocol(regions: np.ndarray | None) -> Any:
    if regions is None:
        return FrameProtocol()
    if regions.shape[1] == BoxProtocol.region_size:
        return BoxProtocol()
    if regions.shape[1] == AxisProtocol.region_size:
        return AxisProtocol()
    raise ValueError(
        f"cannot infer a protocol for regions with {regions.shape[1]} values per candidate; "
        f"pass protocol= explicitly."
    )


def _protocol_key(protocol: Any) -> str:
    params = sorted(protocol.get_params(deep=False).items())
    return f"{type(protocol).__name__}{params!r}"


class _ImageSource:
    """The source images of a pool: an in-memory stack, a list of arrays or files."""

    def __init__(self, images: Any, image_mode: str | None, window: Any = None):
        self.window = check_window(window)
        if isinstance(images, np.ndarray):
            self._init_stack(images)
        elif isinstance(images, (list, tuple)):
            self._init_list(list(images), image_mode)
        else:
            raise TypeError(
                "images must be a uint8 array of shape (N, H, W) or (N, H, W, C), or a list "
                f"of such images or of image file paths; got {type(images).__name__}."
            )
        self._lru: OrderedDict = OrderedDict()
        self._digests: list | None = None

    # ---- construction
    def _init_stack(self, images: np.ndarray) -> None:
        if images.dtype != np.uint8:
            raise TypeError(f"images must hold uint8 pixels; got dtype {images.dtype}.")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            hint = ""
            if images.ndim == 4 and images.shape[1] in (1, 3):
                hint = " Source images are channels-last: use images.transpose(0, 2, 3, 1)."
            raise ValueError(
                f"images must have shape (N, H, W) or (N, H, W, C) with C in (1, 3); got "
                f"{images.shape}.{hint}"
            )
        if len(images) == 0:
            raise ValueError("images is empty: no source images given.")
        self.kind = "array"
        self.items = images
        self.n_channels = int(images.shape[-1])
        self.mode = None

    def _init_list(self, items: list, image_mode: str | None) -> None:
        if not items:
            raise ValueError("images is empty: no source images given.")
        if all(isinstance(it, (str, os.PathLike)) for it in items):
            mode = "RGB" if image_mode is None else image_mode
            if mode not in ("RGB", "L"):
                raise ValueError(f"image_mode must be 'RGB' or 'L'; got {image_mode!r}.")
            self.kind = "files"
            self.items = [os.fspath(it) for it in items]
            self.n_channels = 3 if mode == "RGB" else 1
            self.mode = mode
            return
        arrays = []
        for i, it in enumerate(items):
            if isinstance(it, (str, os.PathLike)):
                raise TypeError("images mixes file paths and arrays; give one kind only.")
            arrays.append(check_image(it, name=f"images[{i}]"))
        channels = {a.shape[2] for a in arrays}
        if len(channels) != 1:
            raise ValueError(
                f"images mixes channel counts {sorted(channels)}; all must be grey (1) or all "
                f"RGB (3)."
            )
        self.kind = "list"
        self.items = arrays
        self.n_channels = channels.pop()
        self.mode = None

    def __len__(self) -> int:
        return len(self.items)

    # ---- access
    def get(self, index: int) -> np.ndarray:
        if self.kind != "files":
            return self.items[index]
        if index in self._lru:
            self._lru.move_to_end(index)
            return self._lru[index]
        image = self._read(self.items[index])
        self._lru[index] = image
        if len(self._lru) > 16:
            self._lru.popitem(last=False)
        return image

    def _read(self, path: str) -> np.ndarray:
        return read_image(path, mode=self.mode, window=self.window).pixels

    def digest(self, index: int) -> str:
        """Content identity of one source (file: path, size, mtime; array: hash)."""
        if self._digests is None:
            self._digests = [None] * len(self.items)
        d = self._digests[index]
        if d is None:
            if self.kind == "files":
                path = os.path.abspath(self.items[index])
                try:
                    st = os.stat(path)
                    d = f"file:{path}:{st.st_size}:{st.st_mtime_ns}:{self._reading()}"
                except OSError:
                    d = f"file:{path}:missing:{self._reading()}"
            else:
                arr = np.ascontiguousarray(self.items[index])
                h = hashlib.blake2b(arr.data, digest_size=16)
                h.update(repr(arr.shape).encode())
                d = f"array:{h.hexdigest()}"
            self._digests[index] = d
        return d

    def _reading(self) -> str:
        """How files are read: the mode, and the window when one is given."""
        return self.mode if self.window is None else f"{self.mode}:window{self.window}"

    def content_digest(self, index: int) -> str:
        """Digest of one source's decoded content (files decoded once, see verify_image).

        An unreadable file gets a digest of its own (its path): it equals no other.
        """
        if self.kind == "files":
            try:
                return f"content:{verify_image(self.items[index])}:{self._reading()}"
            except UnreadableImageError:
                return f"unreadable:{os.path.abspath(self.items[index])}"
        return self.digest(index)

    def unreadable(self) -> list[int]:
        """Indices of the source files that cannot be decoded (each decoded once)."""
        if self.kind != "files":
            return []
        bad = []
        for index, path in enumerate(self.items):
            try:
                verify_image(path)
            except UnreadableImageError:
                bad.append(index)
        return bad

    def describe(self) -> str:
        if self.kind == "files":
            return f"{len(self.items)} image files"
        return f"{len(self.items)} in-memory images"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_lru"] = OrderedDict()
        return state


class _Pool:
    """Everything a CandidateSet and its subsets share."""

    def __init__(self, source, image_index, regions, protocol, seed, cache_dir):
        self.source = source
        self.image_index = image_index
        self.regions = regions
        self.protocol = protocol
        self.seed = seed
        self.cache_dir = None if cache_dir is None else os.fspath(cache_dir)
        m, c, h, w = protocol.output_shape(source.n_channels)
        self.patch_shape = (m, c, h, w)
        self.uses_random = bool(protocol.uses_random_state)
        self._keys: np.ndarray | None = None
        self._cache: tuple | None = None

    def __len__(self) -> int:
        return len(self.image_index)

    # ---- keys
    def _hash_rows(self, source_digest: Any, with_seed: bool) -> np.ndarray:
        proto = _protocol_key(self.protocol)
        keys = np.empty(len(self), dtype=object)
        for row in range(len(self)):
            h = hashlib.blake2b(digest_size=16)
            h.update(_KEY_VERSION.encode())
            h.update(source_digest(int(self.image_index[row])).encode())
            if self.regions is not None:
                h.update(self.regions[row].tobytes())
            h.update(proto.encode())
            h.update(repr(self.patch_shape).encode())
            if with_seed and self.uses_random:
                h.update(f"seed:{self.seed}:{row}".encode())
            keys[row] = h.hexdigest()
        return keys

    def keys(self) -> np.ndarray:
        if self._keys is None:
            self._keys = self._hash_rows(self.source.digest, with_seed=True)
        return self._keys

    def content_keys(self) -> np.ndarray:
        """Per row: the source's decoded content, region and protocol (no seed)."""
        return self._hash_rows(self.source.content_digest, with_seed=False)

    # ---- generation
    def rng(self, row: int) -> np.random.Generator | None:
        if not self.uses_random:
            return None
        return np.random.default_rng([self.seed, int(row)])

    def generate_one(self, row: int) -> np.ndarray:
        image = self.source.get(int(self.image_index[row]))
        region = None if self.regions is None else self.regions[row]
        return self.protocol._generate(image, region, self.rng(row))

    def generate(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows),) + self.patch_shape, dtype=np.uint8)
        if len(rows) == 0:
            return out
        self.protocol._validate()
        cache = self._open_cache()
        todo = np.arange(len(rows))
        if cache is not None:
            patches, done = cache
            hit = done[rows]
            if hit.any():
                out[hit] = patches[rows[hit]]
            todo = np.flatnonzero(~hit)
        # visit candidates grouped by source image so each file is read once per batch
        order = todo[np.argsort(self.image_index[rows[todo]], kind="stable")]
        for i in order:
            out[i] = self.generate_one(rows[i])
        if cache is not None and len(todo):
            patches, done = cache
            new_rows = rows[todo]
            patches[new_rows] = out[todo]
            patches.flush()
            done[new_rows] = True
            done.flush()
        return out

    # ---- memmap cache
    def _fingerprint(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((len(self), self.patch_shape)).encode())
        for key in self.keys():
            h.update(key.encode())
        return h.hexdigest()

    def _open_cache(self):
        if self.cache_dir is None:
            return None
        if self._cache is not None:
            return self._cache
        folder = self.cache_dir
        os.makedirs(folder, exist_ok=True)
        meta_path = os.path.join(folder, "meta.json")
        patches_path = os.path.join(folder, "patches.npy")
        done_path = os.path.join(folder, "done.npy")
        fingerprint = self._fingerprint()
        shape = (len(self),) + self.patch_shape
        meta = None
        if os.path.exists(meta_path):
            try:
                with open(meta_path) as fh:
                    meta = json.load(fh)
            except (OSError, ValueError):
                meta = None
        reuse = (
            meta is not None
            and meta.get("version") == _CACHE_VERSION
            and meta.get("fingerprint") == fingerprint
            and os.path.exists(patches_path)
            and os.path.exists(done_path)
        )
        if reuse:
            patches = np.lib.format.open_memmap(patches_path, mode="r+")
            done = np.lib.format.open_memmap(done_path, mode="r+")
            if patches.shape != shape or done.shape != (len(self),):
                reuse = False
        if not reuse:
            if meta is not None:
                warnings.warn(
                    f"the patch cache in {folder!r} belongs to a different candidate set; "
                    f"it is rebuilt.",
                    stacklevel=4,
                )
            done = np.lib.format.open_memmap(
                done_path, mode="w+", dtype=np.bool_, shape=(len(self),)
            )
            patches = np.lib.format.open_memmap(
                patches_path, mode="w+", dtype=np.uint8, shape=shape
            )
            tmp = meta_path + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(
                    {"version": _CACHE_VERSION, "fingerprint": fingerprint, "shape": shape}, fh
                )
            os.replace(tmp, meta_path)
        self._cache = (patches, done)
        return self._cache

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = None  # memmaps are reopened on first use
        return state


