"""Type-check the package as it is installed: ``shelfsight.*`` with the three layers
mapped in from the repository's top level (pyproject's ``package-dir``), which mypy
cannot follow through an editable install's import hook.

    python scripts/typecheck.py [mypy options]

It lays a tree of links to the sources in a temporary folder, shaped like the installed
package, and runs mypy on it with the settings in pyproject.toml ([tool.mypy]); errors
name the installed paths (``shelfsight/indexer/...`` is ``indexer/...`` here).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    with tempfile.TemporaryDirectory(prefix="typecheck-") as tmp:
        top = Path(tmp)
        for package, folder in sorted(mapping.items()):
            target = top.joinpath(*package.split("."))
            if package == "shelfsight":  # the facade's own files, beside the mapped layers
                target.mkdir(parents=True)
                for f in (ROOT / folder).glob("*.py"):
                    (target / f.name).symlink_to(f)
                (target / "py.typed").symlink_to(ROOT / folder / "py.typed")
            else:
                target.symlink_to(ROOT / folder, target_is_directory=True)
        cmd = [
            sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
            "-p", "shelfsight", *sys.argv[1:],
        ]  # fmt: skip
        env = {**os.environ, "MYPYPATH": str(top)}
        return subprocess.run(cmd, cwd=top, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
