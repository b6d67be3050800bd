"""The workspace folder: one SQLite catalogue plus versioned FAISS index folders.

Layout::

    HOME/
      catalogue.db          SQLite (WAL): products, tags, embeddings
      .writer.lock          held by whoever writes (ingest, index, train, the API)
      images/ab/<sha256>    images added through the API, by content
      index/
        CURRENT             name of the live index version (swapped atomically)
        v-<stamp>/          index.faiss + manifest.json of one build
      models/               trained model files (hybrid CNN-ViT; text-tags.joblib: the words)
      cache/                derived, re-creatable data: CNN feature maps, Ray shards,
                            thumbnails, title vectors, photo URLs' validators

Every path below HOME is named here and nowhere else.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shelfsight.core.errors import NotFound
from shelfsight.core.settings import settings
from shelfsight.indexer.disk_full import disk_full_as_error

DEFAULT_HOME = "shelfsight-data"
HOME_ENV = "SHELFSIGHT_HOME"


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """--home beats $SHELFSIGHT_HOME beats ./shelfsight-data."""
    if home is None:
        home = settings().home or DEFAULT_HOME
    return Path(home).expanduser().resolve()


class WorkspaceMissing(NotFound, FileNotFoundError):
    """Opened without ``create`` where there is no workspace."""


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def open(cls, home: str | os.PathLike[str] | None = None, create: bool = False) -> Workspace:
        path = resolve_home(home)
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not path.is_dir():
            raise WorkspaceMissing(
                f"workspace {path} does not exist; run `shelfsight ingest` first"
            )
        return cls(path)

    @property
    def db_path(self) -> Path:
        return self.home / "catalogue.db"

    @property
    def photo_url_cache(self) -> Path:  # what each catalogue photo URL answered last time
        return self.cache_dir / "photo-urls.db"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def text_tags_path(self) -> Path:
        """The listing words' model and its fusion with the photo (``index`` fits it)."""
        return self.models_dir / "text-tags.joblib"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def lock_path(self) -> Path:
        return self.home / ".writer.lock"

    @property
    def current_model_pointer(self) -> Path:
        return self.models_dir / "CURRENT"

    def stored_image(self, sha256: str, ext: str) -> Path:
        """Where an image sent through the API is kept: by content, so a re-send is free."""
        return self.home / "images" / sha256[:2] / f"{sha256}{ext}"

    def thumbnail(self, sha256: str, size: str) -> Path:
        return self.cache_dir / "thumbs" / f"{sha256}-{size}.jpg"

    def feature_cache(self, layout: str) -> Path:
        return self.cache_dir / f"features-{layout}.db"

    def shard_dir(self, model: str) -> Path:
        return self.cache_dir / "shards" / model

    def title_vectors(self, model: str, digest: str) -> Path:
        return self.cache_dir / f"titles-{model}-{digest}.npy"


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success.

    A crash while writing leaves ``target`` as it was, so readers never see half a file;
    a full disk raises ``DiskFull`` and leaves no temporary file behind.
    """
    with disk_full_as_error(str(target)):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        tmp_path = Path(tmp)
        try:
            # mkstemp makes the file 0600; the final file gets what open() would give it,
            # so a replica or a web server running as another user can read it.
            os.fchmod(fd, 0o666 & ~_UMASK)
            os.close(fd)
            yield tmp_path
            with open(tmp_path, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp_path, target)
        finally:
            if tmp_path.exists():
                tmp_path.unlink()


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
