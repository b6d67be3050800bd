"""One log format: logfmt lines, fields as keys, Python warnings routed through it."""

import logging
import warnings

from shelfsight.service import logs


def test_fields_become_keys_and_values_with_spaces_are_quoted():
    record = logging.LogRecord("shelfsight.access", logging.INFO, __file__, 1, "request", (), None)
    record.fields = {"path": "/similar/1", "status": 200, "note": 'a "b" c'}
    line = logs.LogfmtFormatter().format(record)
    assert line.startswith("ts=") and " level=info logger=shelfsight.access msg=request " in line
    assert line.endswith('path=/similar/1 status=200 note="a \\"b\\" c"')


def test_warnings_are_log_records_in_the_same_format(capsys):
    # pytest records warnings per test by swapping showwarning; an earlier configure()
    # in this process already captured the previous one, so start from uncaptured.
    logging.captureWarnings(False)
    logs.configure(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            logging.captureWarnings(False)
            logging.captureWarnings(True)
            warnings.warn("a library complains", UserWarning, stacklevel=1)
        err = capsys.readouterr().err.strip().splitlines()
        assert err and all(line.startswith("ts=") for line in err)
        assert "logger=py.warnings" in err[-1] and "a library complains" in err[-1]
        logging.getLogger("sentence_transformers").info("Loading model")  # chatty: -vv only
        logging.getLogger("shelfsight.x").info("hidden at the default level")
        assert capsys.readouterr().err == ""
        logs.configure(1)
        logging.getLogger("shelfsight.x").info("shown with -v")
        logging.getLogger("sentence_transformers").info("still quiet")
        err = capsys.readouterr().err
        assert "shown with -v" in err and "still quiet" not in err
    finally:
        logging.captureWarnings(False)
        logs.configure(0)


def test_control_characters_cannot_forge_a_line_or_repaint_a_terminal():
    # GET /products/%1b%5b2J%0dts=...level=error msg=pwned wrote a raw ESC and CR (issue 24).
    record = logging.LogRecord("shelfsight.access", logging.INFO, __file__, 1, "request", (), None)
    record.fields = {"path": "/products/\x1b[2J\rts=1 level=error msg=pwned\x00\x85\u2028x"}
    line = logs.LogfmtFormatter().format(record)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in line)
    assert "\u2028" not in line and line.count("level=") == 2  # ours, and the quoted one
    assert 'path="/products/\\u001b[2J\\rts=1 level=error msg=pwned\\u0000\\u0085\\u2028x"' in line
