"""The describer's language model loaded from its GGUF against loaded from its converted
copy (``tagging/describe/converted_models.py``), in one run, each in a fresh process:

    python scripts/bench_describe_load.py [--rounds 2]

A throw-away cache folder: the first process reads the GGUF and writes the copy, the next
reads the copy; then again with the cache off (GGUF) and on (copy). Each process prints
its load time and a greedy description of one prompt; the texts must be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

PROBE = """
import json, time
import torch, transformers  # imported before the clock: the load alone is timed
from transformers import AutoModelForCausalLM, AutoTokenizer
from shelfsight.tagging.describe.backends import GenerationRequest, TransformersBackend
b = TransformersBackend(threads=2)
t = time.perf_counter(); b.load(); took = time.perf_counter() - t
msg = [{"role": "user", "content": "Describe a navy blue cotton shirt for men."}]
text = b.generate(GenerationRequest(msg, max_new_tokens=40))
print(json.dumps({"source": b.source, "seconds": round(took, 2), "text": text}))
"""


def run(cache: str) -> dict:
    env = {**os.environ, "SHELFSIGHT_MODEL_CACHE": cache}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        runs = [run(cache)]  # converts
        for _ in range(args.rounds):
            runs += [run("off"), run(cache)]
    for r in runs:
        print(f"{r['source']:>9}: {r['seconds']:6.2f} s")
    texts = {r["text"] for r in runs}
    print("same text:", len(texts) == 1, "|", next(iter(texts))[:70])


if __name__ == "__main__":
    main()
