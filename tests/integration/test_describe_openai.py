"""The openai backend against a real HTTP server on loopback: text, guard, failures."""

import socket
import time

import pytest

from shelfsight.tagging.describe.backends import BackendError, GenerationRequest, OpenAIBackend
from shelfsight.tagging.describe.facts import Facts, Listing
from shelfsight.tagging.describe.grounding import ungrounded_words
from shelfsight.tagging.describe.writer import DescribeOptions, DescriptionWriter

from .llm_server import ChatServer

FACTS = Facts(title="Roadster Men Blue Slim Fit Shirt", brand="Roadster", gender="Men")
NEIGHBOURS = [
    Listing("1", "Roadster Men Red Shirt", "Red slim fit shirt, has a spread collar."),
    Listing("2", "Roadster Men Grey Shirt", "Grey slim fit shirt, has a button placket."),
]


def backend(server, **kw):
    return OpenAIBackend(server.base_url, "test-model", "k", **kw)


def test_generates_and_sends_facts_and_examples():
    with ChatServer(["A blue slim fit shirt from Roadster, with a spread collar."]) as srv:
        out = DescriptionWriter(backend(srv)).describe(
            FACTS, NEIGHBOURS, DescribeOptions(length="short")
        )
    # the endpoint's words the facts hold stay; its spread collar (a neighbour's, not in
    # this product's facts) goes, as from any backend (issue 28, grounding)
    assert out.text == "A blue slim fit shirt from Roadster."
    assert out.unsupported_claims == [] and not out.regenerated
    body = srv.requests[0]["body"]
    assert srv.requests[0]["path"] == "/v1/chat/completions" and body["model"] == "test-model"
    assert body["temperature"] == 0.0  # deterministic by default
    contents = [m["content"] for m in body["messages"]]
    assert "Red slim fit shirt, has a spread collar." in contents  # an in-context example
    assert "Roadster Men Blue Slim Fit Shirt" in contents[-1]


def test_planted_false_colour_triggers_a_retry_then_removal():
    planted = "A blue and red slim fit shirt for women, with white buttons."
    with ChatServer([planted, planted]) as srv:
        out = DescriptionWriter(backend(srv)).describe(FACTS, NEIGHBOURS)
    assert len(srv.requests) == 2  # regenerated once, with the offenders named
    assert "Do not mention: red, white, women" in srv.requests[1]["body"]["messages"][-1]["content"]
    assert {c["text"] for c in out.unsupported_claims} == {"red", "white", "women"}
    assert "blue" in out.text and "red" not in out.text and "women" not in out.text


def test_a_copied_neighbour_sentence_is_cut():
    # every word of the copied sentence is one of this product's facts, so only the copy
    # cap can take it out
    same = Listing("3", "Roadster Men Blue Shirt", "Blue slim fit shirt for men by Roadster.")
    copied = "A blue shirt. Blue slim fit shirt for men by Roadster."
    with ChatServer([copied, copied]) as srv:
        out = DescriptionWriter(backend(srv)).describe(
            FACTS, [*NEIGHBOURS, same], DescribeOptions(max_shared_ngram=4)
        )
    assert out.max_shared_ngram <= 4 and out.copied_removed


def test_timeout_is_a_clear_error_not_a_hang():
    with ChatServer(["late"], delay=3.0) as srv:
        started = time.perf_counter()
        with pytest.raises(BackendError, match="did not answer within"):
            backend(srv, timeout=0.5, max_retries=1).generate(
                GenerationRequest([{"role": "user", "content": "hi"}], timeout=0.5)
            )
        assert time.perf_counter() - started < 2.9


def test_dead_endpoint_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    dead = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", "k", timeout=2, max_retries=1)
    with pytest.raises(BackendError, match="cannot reach"):
        dead.generate(GenerationRequest([{"role": "user", "content": "hi"}]))


def test_server_error_is_reported_with_its_status():
    with ChatServer([], status=500) as srv, pytest.raises(BackendError, match="HTTP 500"):
        backend(srv, max_retries=0).generate(GenerationRequest([{"role": "user", "content": "hi"}]))


def test_missing_configuration_is_explained(monkeypatch):
    for var in ("SHELFSIGHT_OPENAI_BASE_URL", "OPENAI_BASE_URL", "SHELFSIGHT_OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(BackendError, match="base URL"):
        OpenAIBackend(model="m")
    with pytest.raises(BackendError, match="model name"):
        OpenAIBackend(base_url="http://127.0.0.1:9/v1")


def test_the_timeout_is_a_deadline_for_the_whole_call_and_frees_its_socket():
    """An endpoint that trickles one byte every second never trips a per-read timeout;
    the deadline (retries included) must still end the call and close its connection."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    open_conns = []
    stop = threading.Event()

    def trickle(conn):
        open_conns.append(conn)
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            while not stop.is_set():
                conn.sendall(b"X-Slow: 1\r\n")
                time.sleep(1)
        except OSError:
            pass
        finally:
            open_conns.remove(conn)
            conn.close()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    threads_before = threading.active_count()
    b = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", "k", timeout=3, max_retries=1)
    t0 = time.monotonic()
    try:
        with pytest.raises(BackendError, match="did not answer within 3 s"):
            b.generate(GenerationRequest([{"role": "user", "content": "hi"}], timeout=3))
        took = time.monotonic() - t0
        time.sleep(2.5)  # the server notices the closed sockets on its next write
        assert open_conns == []
    finally:
        stop.set()
        listener.close()
    assert took < 4.5, f"the call took {took:.1f} s against a 3 s deadline"
    assert threading.active_count() <= threads_before + 1  # the accept loop, nothing of ours


def test_endpoint_text_gets_the_same_guard_and_length_control():
    from shelfsight.tagging.describe.lexicon import Lexicon
    from shelfsight.tagging.describe.vocabulary import Vocabulary

    planted = (
        "A blue slim fit shirt for men with a spread collar, cardigamer cuffs, a turtle "
        "jacket pocket, long sleeves, a curved hem, a button placket and a chest pocket, "
        "made for easy everyday wear."
    )
    vocabulary = Vocabulary.from_texts(
        [n.description for n in NEIGHBOURS]
        + ["with long sleeves a curved hem button placket chest pocket made easy everyday wear"]
        + ["turtle"]
    )
    d = DescriptionWriter(None, Lexicon(["Roadster"]), vocabulary)
    with ChatServer([planted] * 4) as srv:
        d.backend = backend(srv)
        short = d.describe(FACTS, NEIGHBOURS, DescribeOptions(length="short"))
        house = d.describe(FACTS, NEIGHBOURS, DescribeOptions(length="house", tone="playful"))
    for out in (short, house):
        low = out.text.lower()
        assert "cardigamer" not in low and "jacket" not in low, out.text
        # its clause went whole: "cardigamer cuffs" is no fact of this product
        assert ungrounded_words([out.text], [FACTS]) == [[]], out.text
        assert out.backend.startswith("openai:")
    assert len(short.text.split()) <= 15 and short.text.lower().startswith("blue")
    # the endpoint got the edit as its draft, and the asked tone
    request = srv.requests[-1]["body"]["messages"]
    assert "Draft in the house style" in request[-1]["content"]
    assert "playful" in request[0]["content"]


def test_a_text_about_something_else_falls_back_to_the_scaffold():
    # issue 14: a navy check shirt by "Turtle Check" came back as "A shell of a turtle"
    shirt = Facts(
        title="Turtle Check Men Navy Blue Shirt",
        gender="Men",
        colours=["Navy Blue"],
        tags={"articleType": "Shirts", "usage": "Casual"},
    )
    with ChatServer(["A shell of a turtle, made for everyday layering."] * 2) as srv:
        out = DescriptionWriter(backend(srv)).describe(shirt, [])
    assert "turtle" not in out.text.lower() and "shirt" in out.text.lower()
    assert out.fallback and out.text.startswith("Navy blue")
    assert "layering" not in out.text  # no fixed ending either
