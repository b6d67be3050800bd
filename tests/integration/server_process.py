"""`shelfsight serve` as a real process on a free loopback port, for the tests."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home, workers=1, env=None, verbose=0):
        self.port = free_port()
        env = {**os.environ, "SHELFSIGHT_API_KEY": "s3cret", **(env or {})}
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "shelfsight"),
                *(["-" + "v" * verbose] if verbose else []),
                "serve",
                "--home",
                str(home),
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read().decode())
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("server did not start")

    def stop(self):
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out.decode(errors="replace")
