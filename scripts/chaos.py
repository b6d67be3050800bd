"""Chaos run: readers and writers against a served workspace while service workers, the
whole server and CLI writers are killed with SIGKILL at random, then a check that nothing
was lost and that catalogue rows, ``tags`` rows and index ids agree.

    python scripts/chaos.py [--home DIR] [--seconds 120] [--workers 2] [--readers 4]
        [--seed 0] [--json OUT.json]

Without ``--home`` (or with an empty one) it builds a 300-product workspace from a
seeded slice of ``../shared/data/fashion`` (CNN embeddings, no training). Every action
is bounded in count and time and all traffic goes to 127.0.0.1.

A hostile client runs beside them (issue 24): oversized batches, fields past their
limits, cross-site posts, control characters in paths, formula and odd-case tags. Each
must get its 4xx; a 5xx, a timeout or a write that lands anyway is an error.

What is counted: requests by status; errors = 5xx answers, timeouts and broken answers;
``busy`` = writes refused with 503 busy + Retry-After because another writer (a CLI
ingest or index) held the lock past SHELFSIGHT_LOCK_TIMEOUT: nothing written, checked at
the end (``refused_but_written``);
``unavailable`` = connections refused while the server restarts or reset because the
worker holding them was killed (the kills themselves, counted apart);
kills by kind; products lost = writes the API acknowledged (201/200) that are not in the
catalogue or the index at the end, plus acknowledged deletes that came back.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT.parent / "shared" / "data" / "fashion"
CLI = str(Path(sys.executable).parent / "shelfsight")
KEY = "chaos-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slice_csv(out: Path, n: int, seed: int, variant: int = 0) -> list[dict[str, str]]:
    with open(FASHION / "styles.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    random.Random(seed).shuffle(rows)
    rows = rows[:n]
    if variant:  # a re-ingest that rewrites a third of the rows
        rows = [
            {**r, "season": f"{r['season']}-{variant}"} if i % 3 == 0 else r
            for i, r in enumerate(rows)
        ]
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (the uvicorn workers of the supervisor)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


class Server:
    def __init__(self, home: Path, workers: int) -> None:
        self.home, self.workers = home, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.up = threading.Event()

    def start(self) -> None:
        env = {**os.environ, "SHELFSIGHT_API_KEY": KEY}
        self.proc = subprocess.Popen(
            [
                CLI,
                "serve",
                "--home",
                str(self.home),
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    self.up.set()
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("server did not start in 180 s")

    def kill_all(self) -> None:
        self.up.clear()
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def kill_worker(self) -> bool:
        workers = children(self.proc.pid) if self.proc else []
        if not workers:
            return False
        os.kill(random.choice(workers), signal.SIGKILL)
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_all()


def is_busy(r: httpx.Response) -> bool:
    return r.status_code == 503 and "retry-after" in r.headers and '"busy"' in r.text


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: Counter[str] = Counter()
        self.errors: list[str] = []
        self.unavailable = 0
        self.kills: Counter[str] = Counter()
        self.added: dict[str, bool] = {}  # acknowledged: id -> still expected to exist
        self.refused: set[str] = set()  # adds answered 503 busy: must not exist at the end
        self.busy = 0

    def answer(self, what: str, r: httpx.Response) -> None:
        with self.lock:
            self.status[str(r.status_code)] += 1
            if is_busy(r):
                self.busy += 1
            elif r.status_code >= 500:
                self.errors.append(f"{what}: {r.status_code} {r.text[:200]}")

    def expect(self, what: str, r: httpx.Response, status: int) -> None:
        """A hostile request: anything but ``status`` is an error."""
        self.answer(what, r)
        if r.status_code != status and r.status_code < 500:
            with self.lock:
                self.errors.append(f"{what}: {r.status_code}, expected {status}")

    def failed(self, what: str, exc: Exception, server_up: bool) -> None:
        # A SIGKILLed worker resets the connections it held, and a killed server refuses
        # new ones until it is back: those are the kills, counted apart. A timeout, or a
        # broken answer from a live server, is an error.
        with self.lock:
            if isinstance(exc, httpx.TimeoutException) or (
                server_up and not isinstance(exc, httpx.TransportError)
            ):
                self.errors.append(f"{what}: {type(exc).__name__} {exc}")
            else:
                self.unavailable += 1


def reader(server: Server, ids: list[str], tally: Tally, stop: threading.Event) -> None:
    rng = random.Random()
    while not stop.is_set():
        pid = rng.choice(ids)
        path = rng.choice(
            [f"/similar/{pid}?k=10", f"/products/{pid}", "/search?q=shirt", "/health"]
        )
        try:
            tally.answer(path, httpx.get(server.url + path, timeout=30))
        except httpx.HTTPError as exc:
            tally.failed(path, exc, server.up.is_set())
            time.sleep(0.2)


def writer(
    server: Server, photos: list[Path], tally: Tally, stop: threading.Event, seed: int
) -> None:
    rng = random.Random(seed)
    n = 0
    while not stop.is_set():
        try:
            if tally.added and rng.random() < 0.3:
                pid = rng.choice([p for p, alive in tally.added.items() if alive] or ["none"])
                r = httpx.delete(
                    f"{server.url}/products/{pid}", headers={"X-API-Key": KEY}, timeout=60
                )
                tally.answer("delete", r)
                if r.status_code == 200:
                    tally.added[pid] = False
            else:
                n += 1
                pid = f"chaos-{seed}-{n}"
                listing = json.dumps({"id": pid, "title": f"chaos {n}", "tags": {"usage": "Chaos"}})
                r = httpx.post(
                    f"{server.url}/products",
                    headers={"X-API-Key": KEY},
                    timeout=60,
                    data={"listings": listing},
                    files={"image": ("p.jpg", rng.choice(photos).read_bytes(), "image/jpeg")},
                )
                tally.answer("add", r)
                if r.status_code == 201:
                    tally.added[pid] = True
                elif is_busy(r):
                    tally.refused.add(pid)
        except httpx.HTTPError as exc:
            tally.failed("write", exc, server.up.is_set())
            time.sleep(0.3)


def _png(side: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (side, side), (90, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def hostile(server: Server, photos: list[Path], tally: Tally, stop: threading.Event) -> None:
    """What an outsider sends: every request has its refusal, at bounded cost."""
    big = _png(6320)  # 40 MP, 131 KB
    photo = photos[0].read_bytes()
    key = {"X-API-Key": KEY}
    attacks = [
        ("batch 50 x 40 MP", 413, lambda u: httpx.post(
            u + "/tag/batch", files=[("images", (f"{n}.png", big, "image/png")) for n in range(50)],
            timeout=60)),
        ("batch 211 parts", 413, lambda u: httpx.post(
            u + "/tag/batch", files=[("images", ("a.jpg", photo, "image/jpeg"))] * 211,
            timeout=60)),
        ("cross-site batch", 403, lambda u: httpx.post(
            u + "/tag/batch", files={"images": ("a.jpg", photo, "image/jpeg")},
            headers={"Origin": "https://attacker.example"}, timeout=60)),
        ("5 MB title", 400, lambda u: httpx.post(
            u + "/describe", files={"title": (None, "y" * 5_000_000)}, timeout=60)),
        ("log injection", 404, lambda u: httpx.get(
            u + "/products/%1b%5b2J%0dts=1%20level=error%20msg=pwned", timeout=30)),
        ("rebound host", 400, lambda u: httpx.get(
            u + "/health", headers={"Host": "attacker.example"}, timeout=30)),
        ("formula tag", 400, lambda u: httpx.post(
            u + "/products", headers=key, timeout=60,
            data={"listings": json.dumps({"id": "evil-1", "tags": {"usage": "=cmd|'/C calc'!A0"}})},
            files={"image": ("p.jpg", photo, "image/jpeg")})),
        ("NaN tag", 400, lambda u: httpx.post(
            u + "/products", headers=key, timeout=60,
            data={"listings": '{"id": "evil-2", "tags": {"usage": NaN}}'},
            files={"image": ("p.jpg", photo, "image/jpeg")})),
    ]  # fmt: skip
    n = 0
    while not stop.is_set():
        what, status, send = attacks[n % len(attacks)]
        n += 1
        try:
            tally.expect(what, send(server.url), status)
        except httpx.HTTPError as exc:
            tally.failed(what, exc, server.up.is_set())
        time.sleep(0.3)


def cli_writer_killed(home: Path, csv_path: Path, tally: Tally, rng: random.Random) -> None:
    """A CLI ingest or index, SIGKILLed part-way (or left to finish, 1 time in 4)."""
    cmd = rng.choice(["ingest", "ingest", "index"])
    args = [CLI, cmd, "--home", str(home)]
    if cmd == "ingest":
        args[2:2] = [str(csv_path), "--images", str(FASHION / "images")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if rng.random() < 0.25:
        proc.wait(timeout=300)
        return
    time.sleep(rng.uniform(0.5, 6.0))
    if proc.poll() is None:
        proc.kill()
        with tally.lock:
            tally.kills[f"cli {cmd}"] += 1
    proc.wait()


def check(home: Path, tally: Tally) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from shelfsight.indexer.catalogue import Catalogue
    from shelfsight.indexer.vector_index import VectorIndex
    from shelfsight.indexer.workspace import Workspace

    ws = Workspace.open(home, create=False)
    cat = Catalogue(ws.db_path)
    index = VectorIndex.load(ws.index_dir)
    in_index = set(index.ids().tolist())
    keys = cat.keys_by_id()
    embedded = set(cat.embedded_keys(index.model))
    lost = [p for p, alive in tally.added.items() if alive and keys.get(p) not in in_index]
    resurrected = [p for p, alive in tally.added.items() if not alive and p in keys]
    refused = [p for p in tally.refused if p in keys]
    return {
        "integrity": cat.db.execute("pragma integrity_check").fetchone()[0],
        **{k: len(v) for k, v in cat.inconsistencies().items()},
        "index_ids_not_in_catalogue": len(in_index - set(keys.values())),
        "embedded_not_in_index": len(embedded - in_index),
        "products_lost": len(lost) + len(resurrected),
        "refused_but_written": len(refused),
        "hostile_written": sum(p in keys for p in ("evil-1", "evil-2")),
        "products": len(keys),
        "indexed": len(in_index),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--readers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="chaos-"))
    home = args.home or tmp / "ws"
    rows = slice_csv(tmp / "slice.csv", 300, args.seed)
    if not (home / "catalogue.db").exists():
        print(f"building a 300-product workspace in {home}", file=sys.stderr)
        subprocess.run(
            [
                CLI,
                "ingest",
                str(tmp / "slice.csv"),
                "--images",
                str(FASHION / "images"),
                "--home",
                str(home),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run([CLI, "index", "--home", str(home)], check=True, stdout=subprocess.DEVNULL)
    ids = [r["id"] for r in rows]
    photos = [FASHION / "images" / f"{i}.jpg" for i in ids[:50]]
    server = Server(home, args.workers)
    server.start()
    tally, stop = Tally(), threading.Event()
    threads = [
        threading.Thread(target=reader, args=(server, ids, tally, stop))
        for _ in range(args.readers)
    ]
    threads.append(threading.Thread(target=writer, args=(server, photos, tally, stop, args.seed)))
    threads.append(threading.Thread(target=hostile, args=(server, photos, tally, stop)))
    for t in threads:
        t.start()
    t_end = time.monotonic() + args.seconds
    variant = 0
    try:
        while time.monotonic() < t_end:
            time.sleep(rng.uniform(1.0, 4.0))
            action = rng.choice(["worker", "worker", "server", "cli"])
            if action == "worker" and server.kill_worker():
                tally.kills["worker"] += 1
            elif action == "server":
                server.kill_all()
                tally.kills["server"] += 1
                time.sleep(rng.uniform(0.0, 1.0))
                server.start()
            elif action == "cli":
                variant += 1
                slice_csv(tmp / "variant.csv", 300, args.seed, variant)
                cli_writer_killed(home, tmp / "variant.csv", tally, rng)
        stop.set()
        for t in threads:
            t.join(timeout=90)
        # Recovery is part of the system: a restart reconciles what a kill left.
        server.kill_all()
        server.start()
    finally:
        stop.set()
        server.stop()
    result = {
        "seconds": args.seconds,
        "workers": args.workers,
        "requests": sum(tally.status.values()),
        "status": dict(tally.status),
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "unavailable": tally.unavailable,
        "busy": tally.busy,
        "kills": dict(tally.kills),
        "writes_acknowledged": len(tally.added),
        **check(home, tally),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    bad = (
        result["errors"]
        or result["products_lost"]
        or result["refused_but_written"]
        or result["hostile_written"]
        or result["integrity"] != "ok"
        or any(
            result[k]
            for k in (
                "tag_rows_differ",
                "orphan_tag_rows",
                "index_ids_not_in_catalogue",
                "embedded_not_in_index",
            )
        )
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
