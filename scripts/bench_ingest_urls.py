"""Catalogue ingest with photos by URL (issue 29): images/s fetched from a local HTTP
server at several pool sizes, side by side in one run, and the re-run (every photo
revalidated with If-None-Match, none downloaded).

    python scripts/bench_ingest_urls.py --images ../shared/data/fashion/images \
        --limit 600 --latency-ms 40 --workers 1,4,8,16 --json bench-out/ingest_urls.json

The server answers each photo after ``--latency-ms`` (a CDN's round trip; on loopback the
pool would otherwise measure only decoding) and sends an ``ETag``. Each pool size ingests
the same Google feed (TSV, one ``image_link`` per product) into a fresh workspace, so no
run reuses another's downloads. ``--per-host`` stays at its default (4) unless given: the
feed names one host, so it caps what the pool can overlap there.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import shelfsight
from shelfsight.indexer.remote_photos.fetch import FetchOptions


class _Handler(SimpleHTTPRequestHandler):
    latency = 0.0

    def log_message(self, *args: object) -> None:
        pass

    def end_headers(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_file():
            st = path.stat()
            self.send_header("ETag", f'"{st.st_mtime_ns:x}-{st.st_size:x}"')
        super().end_headers()

    def do_GET(self) -> None:
        time.sleep(self.latency)
        path = Path(self.translate_path(self.path))
        if path.is_file():
            st = path.stat()
            if self.headers.get("If-None-Match") == f'"{st.st_mtime_ns:x}-{st.st_size:x}"':
                self.send_response(304)
                self.end_headers()
                return
        super().do_GET()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--latency-ms", type=float, default=40.0)
    ap.add_argument("--workers", default="1,4,8,16")
    ap.add_argument("--per-host", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    files = sorted(args.images.glob("*.jpg"))[: args.limit]
    _Handler.latency = args.latency_ms / 1000
    handler = partial(_Handler, directory=str(args.images))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-urls-"))
    feed = work / "feed.tsv"
    lines = ["id\ttitle\timage_link\tcolor"]
    lines += [f"P{f.stem}\tProduct {f.stem}\t{base}/{f.name}\tBlack" for f in files]
    feed.write_text("\n".join(lines) + "\n")

    runs = []
    for workers in [int(w) for w in args.workers.split(",")]:
        per_host = args.per_host or FetchOptions().per_host
        opts = FetchOptions(workers=workers, per_host=per_host, allow_private=True)
        shelf = shelfsight.open(work / f"ws-{workers}", create=True)
        t0 = time.perf_counter()
        first = shelf.ingest(feed, fetch=opts)
        t1 = time.perf_counter()
        again = shelf.ingest(feed, fetch=opts)
        t2 = time.perf_counter()
        assert first.photos is not None and again.photos is not None
        run = {
            "workers": workers,
            "per_host": per_host,
            "products": first.added,
            "skipped": len(first.skipped),
            "downloaded": first.photos.downloaded,
            "megabytes": round(first.photos.bytes / 1e6, 1),
            "ingest_s": round(t1 - t0, 2),
            "images_per_s": round(first.photos.downloaded / (t1 - t0), 1),
            "fetch_only_images_per_s": round(
                first.photos.downloaded / max(first.photos.seconds, 1e-9), 1
            ),
            "rerun_s": round(t2 - t1, 2),
            "rerun_downloaded": again.photos.downloaded,
            "rerun_not_modified": again.photos.not_modified,
        }
        runs.append(run)
        print(json.dumps(run))
    server.shutdown()
    base_rate = runs[0]["images_per_s"]
    for run in runs:
        run["speedup_vs_first"] = round(run["images_per_s"] / base_rate, 2)
    out = {
        "images": len(files),
        "latency_ms": args.latency_ms,
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
        "runs": runs,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
