"""The prompt: the retailer's controls, the neighbours as in-context examples (ModICT),
and this product's facts.

Neighbours with a description become worked examples (their facts -> their text), the
closest last so it sits nearest the answer; neighbours without one are listed as
context for vocabulary only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shelfsight.tagging.describe.facts import Facts, Listing

Message = dict[str, str]


@dataclass(frozen=True)
class Length:
    instruction: str
    max_new_tokens: int


LENGTHS = {
    "house": Length("as long as the examples", 96),
    "short": Length("one sentence of at most 15 words", 40),
    "medium": Length("two sentences, 20 to 40 words in all", 96),
    "long": Length("three or four sentences, 50 to 90 words in all", 176),
}
TONES = {
    "neutral": "Write in a plain, factual catalogue style.",
    "premium": "Write in a refined, understated luxury style: calm, precise, no exclamation marks.",
    "playful": "Write in an upbeat, friendly, playful style.",
}
MAX_EXAMPLES = 4


def system_prompt(length: str, tone: str, language: str | None) -> str:
    if length not in LENGTHS:
        raise ValueError(f"unknown length {length!r}; choose from {', '.join(LENGTHS)}")
    if tone not in TONES:
        raise ValueError(f"unknown tone {tone!r}; choose from {', '.join(TONES)}")
    parts = [
        "You write product descriptions for an online shop.",
        f"Length: {LENGTHS[length].instruction}.",
        TONES[tone],
        "State only what the facts say about colour, material, brand, gender and product "
        "type; never invent them. Describe this product, not the examples, and do not "
        "copy sentences from the examples.",
    ]
    if language:
        parts.append(f"Write in {language}.")
    return " ".join(parts)


def build_messages(
    facts: Facts,
    neighbours: Sequence[Listing],
    length: str = "medium",
    tone: str = "neutral",
    language: str | None = None,
    avoid: Sequence[str] = (),
    draft: str = "",
) -> list[Message]:
    messages: list[Message] = [{"role": "system", "content": system_prompt(length, tone, language)}]
    # A catalogue without descriptions gives no worked example: the draft (written from the
    # facts) shows the task. A fixed example pair was tried and its ending ("made for
    # everyday layering") came back on every product, a saree included.
    examples = [n for n in neighbours if n.description][:MAX_EXAMPLES]
    for n in reversed(examples):
        messages.append({"role": "user", "content": "Facts:\n" + n.facts_text()})
        messages.append({"role": "assistant", "content": n.description})
    request = "Facts:\n" + facts.text()
    context = [n for n in neighbours if not n.description][:MAX_EXAMPLES]
    if context:
        # Vocabulary only, and in the system turn: placed next to the answer, a small model
        # copies the list instead of describing the product.
        messages[0]["content"] += (
            " Similar products in this catalogue: " + "; ".join(n.title for n in context) + "."
        )
    if draft:
        # The retrieve-and-edit scaffold: the house template with this product's facts.
        request += "\n\nDraft in the house style (rewrite it in the asked tone and length):\n"
        request += draft
    if avoid:
        request += "\n\nDo not mention: " + ", ".join(avoid) + "."
    messages.append({"role": "user", "content": request})
    return messages
