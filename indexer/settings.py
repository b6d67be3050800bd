"""Every setting Shelfsight reads from the environment, read here and nowhere else.

The CLI's options and the library's arguments win over these; the HTTP service, whose
worker processes are started by uvicorn, takes its whole configuration from them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

MB = 1024 * 1024
_OFF = ("0", "false", "off", "no")


@dataclass(frozen=True)
class Settings:
    home: str | None = None  # SHELFSIGHT_HOME: the workspace (else ./shelfsight-data)
    runtime: str = "auto"  # SHELFSIGHT_RUNTIME: onnx, torch, cuda or auto
    workers: int = 1  # SHELFSIGHT_WORKERS: processes sharing the cores (set by `serve`)
    verbose: int = 0  # SHELFSIGHT_VERBOSE: 1 = -v (access log, model loads), 2 = -vv
    api_key: str | None = None  # SHELFSIGHT_API_KEY: turns the write endpoints on
    max_upload_bytes: int = 15 * MB  # SHELFSIGHT_MAX_UPLOAD_BYTES
    max_pixels: int = 40_000_000  # SHELFSIGHT_MAX_PIXELS
    max_batch: int = 50  # SHELFSIGHT_MAX_BATCH: photos per POST /tag/batch
    max_batch_bytes: int = 100 * MB  # SHELFSIGHT_MAX_BATCH_BYTES: one batch request's body
    slow_timeout: float = 30.0  # SHELFSIGHT_SLOW_TIMEOUT: OCR and one description
    body_timeout: float = 60.0  # SHELFSIGHT_BODY_TIMEOUT: to receive a request body
    similar_cache: int = 8192  # SHELFSIGHT_SIMILAR_CACHE: answers per worker, 0 = off
    describe: bool = True  # SHELFSIGHT_DESCRIBE=0 turns descriptions off
    describe_backend: str = "edit"  # SHELFSIGHT_DESCRIBE_BACKEND: edit, transformers, openai
    llm_model: str | None = None  # SHELFSIGHT_LLM_MODEL: the transformers backend's model
    openai_base_url: str | None = None  # SHELFSIGHT_OPENAI_BASE_URL (or OPENAI_BASE_URL)
    openai_model: str | None = None  # SHELFSIGHT_OPENAI_MODEL
    openai_api_key: str | None = None  # SHELFSIGHT_OPENAI_API_KEY (or OPENAI_API_KEY)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def text(name: str, *fallbacks: str) -> str | None:
            for key in (name, *fallbacks):
                if env.get(key):
                    return env[key]
            return None

        d = cls()
        return cls(
            home=text("SHELFSIGHT_HOME"),
            runtime=text("SHELFSIGHT_RUNTIME") or d.runtime,
            workers=int(text("SHELFSIGHT_WORKERS") or d.workers),
            verbose=int(text("SHELFSIGHT_VERBOSE") or d.verbose),
            api_key=text("SHELFSIGHT_API_KEY"),
            max_upload_bytes=int(text("SHELFSIGHT_MAX_UPLOAD_BYTES") or d.max_upload_bytes),
            max_pixels=int(text("SHELFSIGHT_MAX_PIXELS") or d.max_pixels),
            max_batch=int(text("SHELFSIGHT_MAX_BATCH") or d.max_batch),
            max_batch_bytes=int(text("SHELFSIGHT_MAX_BATCH_BYTES") or d.max_batch_bytes),
            slow_timeout=float(text("SHELFSIGHT_SLOW_TIMEOUT") or d.slow_timeout),
            body_timeout=float(text("SHELFSIGHT_BODY_TIMEOUT") or d.body_timeout),
            similar_cache=int(text("SHELFSIGHT_SIMILAR_CACHE") or d.similar_cache),
            describe=(text("SHELFSIGHT_DESCRIBE") or "1").lower() not in _OFF,
            describe_backend=text("SHELFSIGHT_DESCRIBE_BACKEND") or d.describe_backend,
            llm_model=text("SHELFSIGHT_LLM_MODEL"),
            openai_base_url=text("SHELFSIGHT_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
            openai_model=text("SHELFSIGHT_OPENAI_MODEL"),
            openai_api_key=text("SHELFSIGHT_OPENAI_API_KEY", "OPENAI_API_KEY"),
        )


def settings() -> Settings:
    """The environment's settings now (read on each call: tests and `serve` change it)."""
    return Settings.from_env()
