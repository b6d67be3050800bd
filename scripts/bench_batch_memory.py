"""What one unauthenticated ``POST /tag/batch`` of large photos costs a service worker:
peak memory growth, CPU seconds and wall time, in a fresh process (as the test does).

    python scripts/bench_batch_memory.py --home WS [--photos 50] [--side 6320]
        [--max-batch-pixels 10000000000] [--json OUT.json]

The photos are one solid-colour PNG of side x side pixels (6320 x 6320 = 40 MP, 131 KB
on the wire), sent ``--photos`` times. The model is loaded and warmed with one photo
first, so the growth measured is the request's own. Run it with another build first on
``PYTHONPATH`` to compare (BENCHMARKS.md, issue 24).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--photos", type=int, default=50)
    ap.add_argument("--side", type=int, default=6320)
    ap.add_argument("--max-batch-pixels", type=int, default=10**10)
    ap.add_argument("--json")
    args = ap.parse_args()

    from litestar.testing import TestClient
    from PIL import Image

    from shelfsight.core.settings import Settings
    from shelfsight.service.app import create_app

    buf = io.BytesIO()
    Image.new("RGB", (args.side, args.side), (90, 30, 30)).save(buf, format="PNG")
    data = buf.getvalue()
    files = [("images", (f"p{n}.png", data, "image/png")) for n in range(args.photos)]
    config = Settings(home=args.home, describe=False, max_batch=args.photos)
    if hasattr(config, "max_batch_pixels"):  # the builds before issue 24 had no such cap
        config.max_batch_pixels = args.max_batch_pixels

    def peak_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def cpu_s() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    with TestClient(create_app(config), timeout=600) as c:
        c.post("/tag/batch", files=files[:1])  # model loaded and warm
        before, cpu0, t0 = peak_mb(), cpu_s(), time.perf_counter()
        r = c.post("/tag/batch", files=files)
        out = {
            "photos": args.photos,
            "megapixels_each": round(args.side * args.side / 1e6, 1),
            "request_bytes": len(data) * args.photos,
            "status": r.status_code,
            "tagged": r.json().get("tagged"),
            "peak_before_mb": round(before),
            "peak_growth_mb": round(peak_mb() - before),
            "cpu_s": round(cpu_s() - cpu0, 1),
            "wall_s": round(time.perf_counter() - t0, 1),
        }
    print(json.dumps(out))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
