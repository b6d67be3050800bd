"""Every setting Shelfsight reads from the environment, read here and nowhere else.

The CLI's options and the library's arguments win over these; the HTTP service, whose
worker processes are started by uvicorn, takes its whole configuration from them (or
from a ``Settings`` built in code: ``create_app(Settings(home=...))``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MB = 1024 * 1024
LOOPBACK = ("localhost", "127.0.0.1", "::1")
_OFF = ("0", "false", "off", "no")


@dataclass(frozen=True)
class Settings:
    home: str | None = None  # SHELFSIGHT_HOME: the workspace (else ./shelfsight-data)
    runtime: str = "auto"  # SHELFSIGHT_RUNTIME: onnx, torch, cuda or auto
    workers: int = 1  # SHELFSIGHT_WORKERS: processes sharing the cores (set by `serve`)
    verbose: int = 0  # SHELFSIGHT_VERBOSE: 1 = -v (access log, model loads), 2 = -vv
    api_key: str | None = None  # SHELFSIGHT_API_KEY: turns the write endpoints on
    # SHELFSIGHT_ALLOWED_HOSTS: comma-separated names the server answers to (its Host
    # header; "*.example.com" for sub-domains, "*" for any). From the environment the
    # default is the loopback names; None (settings built in code) answers any.
    allowed_hosts: tuple[str, ...] | None = None
    max_upload_bytes: int = 15 * MB  # SHELFSIGHT_MAX_UPLOAD_BYTES
    max_pixels: int = 40_000_000  # SHELFSIGHT_MAX_PIXELS
    max_batch: int = 50  # SHELFSIGHT_MAX_BATCH: photos per POST /tag/batch
    max_batch_bytes: int = 100 * MB  # SHELFSIGHT_MAX_BATCH_BYTES: one batch request's body
    # SHELFSIGHT_MAX_BATCH_PIXELS: all photos of one batch request together (50 x 12 MP
    # phone photos). It bounds the CPU a request costs: a 40 MP PNG takes 0.7 s to decode.
    max_batch_pixels: int = 600_000_000
    slow_timeout: float = 30.0  # SHELFSIGHT_SLOW_TIMEOUT: OCR and one description
    body_timeout: float = 60.0  # SHELFSIGHT_BODY_TIMEOUT: to receive a request body
    # SHELFSIGHT_LOCK_TIMEOUT: how long an API write waits for another writer (an ingest,
    # a train) before it is answered 503 busy with nothing written.
    lock_timeout: float = 10.0
    # SHELFSIGHT_SLOW_SLOTS: descriptions and OCR reads running at once per worker; a
    # request beyond them is a 503, and one past its time-out keeps its slot until it ends.
    slow_slots: int = 2
    # SHELFSIGHT_SIMILAR_CACHE_MB: /similar answers kept per worker, by their size; 0 = off
    similar_cache_mb: float = 64.0
    # SHELFSIGHT_DESCRIBE=0 turns descriptions off. On, the describer (and its model, if
    # any) is prepared at start-up in the background, so the first /describe does not pay
    # for it (20-46 s with a model).
    describe: bool = True
    describe_backend: str = "edit"  # SHELFSIGHT_DESCRIBE_BACKEND: edit, transformers, openai
    llm_model: str | None = None  # SHELFSIGHT_LLM_MODEL: the transformers backend's model
    openai_base_url: str | None = None  # SHELFSIGHT_OPENAI_BASE_URL (or OPENAI_BASE_URL)
    openai_model: str | None = None  # SHELFSIGHT_OPENAI_MODEL
    openai_api_key: str | None = None  # SHELFSIGHT_OPENAI_API_KEY (or OPENAI_API_KEY)
    # The describe backend's options (model, base_url...): from the environment, the
    # LLM/OpenAI model and base URL above.
    describe_options: Mapping[str, Any] = field(default_factory=dict)
    # SHELFSIGHT_MODEL_CACHE: where a GGUF language model is kept converted after its first
    # load (None: the user's cache folder; "" or 0/off: never)
    model_cache: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def text(name: str, *fallbacks: str) -> str | None:
            for key in (name, *fallbacks):
                if env.get(key):
                    return env[key]
            return None

        d = cls()
        llm_model = text("SHELFSIGHT_LLM_MODEL")
        openai_model = text("SHELFSIGHT_OPENAI_MODEL")
        openai_base_url = text("SHELFSIGHT_OPENAI_BASE_URL", "OPENAI_BASE_URL")
        backend = {"model": llm_model or openai_model, "base_url": openai_base_url}
        return cls(
            home=text("SHELFSIGHT_HOME"),
            runtime=text("SHELFSIGHT_RUNTIME") or d.runtime,
            workers=int(text("SHELFSIGHT_WORKERS") or d.workers),
            verbose=int(text("SHELFSIGHT_VERBOSE") or d.verbose),
            api_key=text("SHELFSIGHT_API_KEY"),
            allowed_hosts=tuple(
                h.strip() for h in (text("SHELFSIGHT_ALLOWED_HOSTS") or "").split(",") if h.strip()
            )
            or LOOPBACK,
            max_upload_bytes=int(text("SHELFSIGHT_MAX_UPLOAD_BYTES") or d.max_upload_bytes),
            max_pixels=int(text("SHELFSIGHT_MAX_PIXELS") or d.max_pixels),
            max_batch=int(text("SHELFSIGHT_MAX_BATCH") or d.max_batch),
            max_batch_bytes=int(text("SHELFSIGHT_MAX_BATCH_BYTES") or d.max_batch_bytes),
            max_batch_pixels=int(text("SHELFSIGHT_MAX_BATCH_PIXELS") or d.max_batch_pixels),
            slow_timeout=float(text("SHELFSIGHT_SLOW_TIMEOUT") or d.slow_timeout),
            body_timeout=float(text("SHELFSIGHT_BODY_TIMEOUT") or d.body_timeout),
            lock_timeout=float(text("SHELFSIGHT_LOCK_TIMEOUT") or d.lock_timeout),
            slow_slots=int(text("SHELFSIGHT_SLOW_SLOTS") or d.slow_slots),
            similar_cache_mb=float(text("SHELFSIGHT_SIMILAR_CACHE_MB") or d.similar_cache_mb),
            describe=(text("SHELFSIGHT_DESCRIBE") or "1").lower() not in _OFF,
            describe_backend=text("SHELFSIGHT_DESCRIBE_BACKEND") or d.describe_backend,
            llm_model=llm_model,
            openai_base_url=openai_base_url,
            openai_model=openai_model,
            openai_api_key=text("SHELFSIGHT_OPENAI_API_KEY", "OPENAI_API_KEY"),
            describe_options={k: v for k, v in backend.items() if v},
            model_cache=_model_cache(env.get("SHELFSIGHT_MODEL_CACHE")),
        )


def _model_cache(value: str | None) -> str | None:
    if value is None:
        return None
    return "" if value.strip().lower() in (*_OFF, "") else value


def settings() -> Settings:
    """The environment's settings now (read on each call: tests and `serve` change it)."""
    return Settings.from_env()
