"""Where a converted language model is kept, and when a copy no longer fits its GGUF."""

import os

from shelfsight.tagging.describe import converted_models


def test_the_entry_follows_the_setting_and_the_file(tmp_path, monkeypatch):
    gguf = tmp_path / "model" / "tiny.Q4.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF" + bytes(60))
    monkeypatch.setenv("SHELFSIGHT_MODEL_CACHE", str(tmp_path / "cache"))
    entry = converted_models.entry_for(str(gguf.parent), gguf.name)
    assert entry is not None and entry.parent == tmp_path / "cache"
    assert entry.name.startswith("tiny.Q4-")
    assert converted_models.entry_for(str(gguf.parent), gguf.name) == entry  # stable
    gguf.write_bytes(b"GGUF" + bytes(61))  # a new file of the same name: a new entry
    assert converted_models.entry_for(str(gguf.parent), gguf.name) != entry
    assert converted_models.entry_for(str(gguf.parent), "absent.gguf") is None
    assert converted_models.load(tmp_path / "nothing-here") is None
    (half := tmp_path / "half").mkdir()  # a copy never completed is never read
    (half / converted_models.WEIGHTS).write_bytes(b"x")
    assert converted_models.load(half) is None
    for off in ("off", "0", ""):
        monkeypatch.setenv("SHELFSIGHT_MODEL_CACHE", off)
        assert converted_models.entry_for(str(gguf.parent), gguf.name) is None
    monkeypatch.delenv("SHELFSIGHT_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    entry = converted_models.entry_for(str(gguf.parent), gguf.name)
    assert entry is not None and str(entry).startswith(str(tmp_path / "xdg" / "shelfsight"))
    assert not os.path.exists(tmp_path / "xdg")  # naming an entry writes nothing
