"""HTTP load on a served workspace with wrk: p50/p99 latency and throughput for
``GET /similar/{id}`` and ``POST /tag`` (no OCR, no LLM; ``tag-title``: with each
photo's own listing title as well) at several concurrencies.

    python scripts/bench_service.py --home shelfsight-data [--workers 2]
        [--concurrency 1,8,32] [--duration 15] [--endpoints similar,tag,tag-title]
        [--json OUT.json]

The ids requested cycle through 500 random catalogue products, so with the answer cache
on, /similar is mostly served from it after the first pass; the cache-off run shows the
cost of answering each request from scratch.

The server (``shelfsight serve``) and wrk share this machine's cores, as they would on
a single small host; wrk's own CPU use is part of what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SIMILAR_LUA = """
local ids = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/similar/" .. ids[(n %% #ids) + 1] .. "?k=10")
end
"""

TAG_LUA = """
local boundary = "shelfsightbench"
local titles = {%s}
local bodies = {}
for i, path in ipairs({%s}) do
  local f = assert(io.open(path, "rb"))
  local data = f:read("*all")
  f:close()
  local title = ""
  if titles[i] ~= "" then
    title = 'Content-Disposition: form-data; name="title"\\r\\n\\r\\n' .. titles[i]
      .. "\\r\\n--" .. boundary .. "\\r\\n"
  end
  bodies[#bodies + 1] = "--" .. boundary .. "\\r\\n" .. title
    .. 'Content-Disposition: form-data; name="image"; filename="p.jpg"\\r\\n'
    .. "Content-Type: image/jpeg\\r\\n\\r\\n" .. data .. "\\r\\n--" .. boundary .. "--\\r\\n"
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/tag?k=10&attributes=colour,shape",
    {["Content-Type"] = "multipart/form-data; boundary=" .. boundary},
    bodies[(n %% #bodies) + 1])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen[bytes], limit: float = 180) -> None:
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not start")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict[str, float]:
    lat = {
        pct: _ms(value, unit)
        for pct, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    }
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "p50_ms": round(lat.get("50", float("nan")), 2),
        "p99_ms": round(lat.get("99", float("nan")), 2),
        "requests_per_s": float(rps.group(1)) if rps else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def run_wrk(url: str, script: str, concurrency: int, duration: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        cmd = [
            "wrk",
            f"-t{min(concurrency, 2)}",
            f"-c{concurrency}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            fh.name,
            url,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(fh.name)
    return parse_wrk(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--duration", type=int, default=15, help="Seconds per measurement.")
    ap.add_argument("--endpoints", default="similar,tag")
    ap.add_argument("--no-uncached", action="store_true", help="Skip the cache-off run.")
    ap.add_argument(
        "--baseline",
        help="Command running another build's CLI (e.g. an older commit's), served and "
        "measured in the same run for a side-by-side ratio.",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    db = sqlite3.connect(args.home / "catalogue.db")
    products = db.execute("select id, image_path, title from products").fetchall()
    rng = random.Random(0)
    ids = [p[0] for p in rng.sample(products, min(500, len(products)))]
    listings = [(p[1], p[2] or "") for p in rng.sample(products, min(20, len(products))) if p[1]]
    photos = ", ".join(json.dumps(path) for path, _ in listings)

    def lua_titles(with_title: bool) -> str:
        return ", ".join(json.dumps(title if with_title else "") for _, title in listings)

    # tag-title: the same photos, each with its listing's own title (issue 26).
    scripts = {
        "similar": SIMILAR_LUA % ", ".join(json.dumps(i) for i in ids),
        "tag": TAG_LUA % (lua_titles(False), photos),
        "tag-title": TAG_LUA % (lua_titles(True), photos),
    }
    # /similar is measured twice in one run: with the per-worker answer cache (the
    # default) and without it (every request searches FAISS and reads SQLite).
    exe = [str(Path(sys.executable).parent / "shelfsight")]
    plans = [("default", {}, args.endpoints.split(","), exe)]
    if "similar" in args.endpoints and not args.no_uncached:
        plans.append(("no-cache", {"SHELFSIGHT_SIMILAR_CACHE_MB": "0"}, ["similar"], exe))
    if args.baseline:  # another build of the server, measured in the same run
        plans.insert(0, ("baseline", {}, args.endpoints.split(","), shlex.split(args.baseline)))
    results = []
    for label, env, endpoints, command in plans:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [
                *command,
                "serve",
                "--home",
                str(args.home),
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(url, proc)
            for endpoint in endpoints:
                run_wrk(url, scripts[endpoint], 2, 3)  # warm-up: models, caches, threads
                for c in [int(x) for x in args.concurrency.split(",")]:
                    m = run_wrk(url, scripts[endpoint], c, args.duration)
                    results.append({"endpoint": endpoint, "server": label, "concurrency": c, **m})
                    print(
                        f"{endpoint:<8} {label:<9} c={c:<3} p50={m['p50_ms']:>8.2f} ms"
                        f"  p99={m['p99_ms']:>8.2f} ms  {m['requests_per_s']:>8.1f} req/s"
                        f"  non-2xx={m['non_2xx']}",
                        flush=True,
                    )
        finally:
            proc.terminate()
            proc.wait(30)
    if args.baseline:
        base = {(r["endpoint"], r["concurrency"]): r for r in results if r["server"] == "baseline"}
        for r in results:
            b = base.get((r["endpoint"], r["concurrency"]))
            if r["server"] == "default" and b:
                r["p50_vs_baseline"] = round(r["p50_ms"] / b["p50_ms"], 2)
                r["p99_vs_baseline"] = round(r["p99_ms"] / b["p99_ms"], 2)
                print(
                    f"{r['endpoint']:<8} c={r['concurrency']:<3} this/baseline: "
                    f"p50 x{r['p50_vs_baseline']}  p99 x{r['p99_vs_baseline']}"
                )
    out = {
        "home": str(args.home),
        "products": len(products),
        "workers": args.workers,
        "duration_s": args.duration,
        "results": results,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
