"""Every logical catalogue write is one transaction: a failure part-way (a trigger that
aborts, a full disk) leaves all of it or none, and the generation number moves with the
rows, never ahead of them."""

import sqlite3
import threading

import pytest

from shelfsight.indexer.catalogue import Catalogue, UnknownFilter
from shelfsight.indexer.disk_full import DiskFull


def record(key, pid=None, title="t", **tags):
    return {
        "key": key,
        "id": pid or f"p{key}",
        "title": title,
        "image_path": None,
        "image_sha256": None,
        "tags": tags or {"articleType": "Shirts", "baseColour": "Navy Blue"},
        "fields": {},
    }


@pytest.fixture()
def cat(tmp_path):
    c = Catalogue(tmp_path / "c.db")
    yield c
    c.close()


def abort_on_tag(cat, value):
    """A real SQLite failure in the middle of a write: inserting this tag value aborts."""
    cat.db.conn.execute(
        f"create temp trigger boom before insert on tags when new.value = '{value}' "
        "begin select raise(abort, 'planted failure'); end"
    )


def test_a_failing_upsert_leaves_nothing_behind(cat):
    cat.upsert_products([record(1)])
    gen = cat.generation()
    abort_on_tag(cat, "BOOM")
    batch = [record(2), record(3, articleType="BOOM"), record(1, title="changed")]
    with pytest.raises(sqlite3.IntegrityError, match="planted failure"):
        cat.upsert_products(batch)
    assert cat.count() == 1 and cat.get("p2") is None
    assert cat.get("p1").title == "t"
    assert cat.generation() == gen
    assert cat.inconsistencies() == {"tag_rows_differ": [], "orphan_tag_rows": []}


def test_delete_is_one_transaction(cat):
    cat.upsert_products([record(1), record(2)])
    cat.db.conn.execute(
        "create temp trigger boom before delete on products when old.id = 'p2' "
        "begin select raise(abort, 'planted failure'); end"
    )
    with pytest.raises(sqlite3.IntegrityError):
        cat.delete_product("p2")
    assert cat.tag_rows([2]) == {2: {"articleType": "Shirts", "baseColour": "Navy Blue"}}
    assert cat.delete_product("p1").id == "p1"
    assert cat.get("p1") is None and cat.tag_rows([1]) == {}


def test_disk_full_rolls_back_and_says_so(cat):
    cat.upsert_products([record(1)])
    pages = cat.db.execute("pragma page_count").fetchone()[0]
    # SQLite's own page limit fails exactly as a full disk does (SQLITE_FULL).
    cat.db.execute(f"pragma max_page_count = {pages}")
    big = [record(k, title="x" * 5000) for k in range(2, 40)]
    with pytest.raises(DiskFull, match="disk full"):
        cat.upsert_products(big)
    assert cat.count() == 1
    assert cat.inconsistencies() == {"tag_rows_differ": [], "orphan_tag_rows": []}


def test_readers_never_see_the_new_generation_with_old_rows(cat):
    """The generation keys the service's answer cache: a reader that reads it and then
    the rows must never pair the new number with the old rows."""
    n = 300
    cat.upsert_products([record(k, title="v0") for k in range(1, n + 1)])
    gen_after = {0: cat.generation()}
    done = threading.Event()
    seen = []

    def reader():
        reader_cat = Catalogue(cat.path)
        while not done.is_set():
            gen = reader_cat.generation()
            seen.append((gen, int(reader_cat.get(f"p{n}").title[1:])))  # written last
        reader_cat.close()

    t = threading.Thread(target=reader)
    t.start()
    try:
        for r in range(1, 6):
            cat.upsert_products([record(k, title=f"v{r}") for k in range(1, n + 1)])
            gen_after[r] = cat.generation()
    finally:
        done.set()
        t.join()
    # A reader that saw round r's generation must see round r's rows (or newer).
    stale = [(g, v) for g, v in seen for r, gr in gen_after.items() if g >= gr and v < r]
    assert len(seen) > 50 and stale == []


def test_inconsistencies_are_found(cat):
    cat.upsert_products([record(1), record(2)])
    cat.db.execute("delete from tags where product_key = 1")  # as a torn old write left it
    cat.db.execute("insert into tags values (99, 'articleType', 'Jeans')")
    assert cat.inconsistencies() == {"tag_rows_differ": [1], "orphan_tag_rows": [99]}


def test_unknown_filters_name_what_exists_and_case_does_not_matter(cat):
    cat.upsert_products([record(1)])
    cat.set_meta("tag_families", ["articleType", "baseColour"])
    assert cat.resolve_where({"articleType": ["Shirts"]}) == {"articleType": ["Shirts"]}
    # a filter typed in another case is the catalogue's own value
    assert cat.resolve_where({"ARTICLETYPE": ["shirts"]}) == {"articleType": ["Shirts"]}
    with pytest.raises(UnknownFilter, match=r"unknown tag family 'colour'.*articleType"):
        cat.resolve_where({"colour": ["Red"]})
    with pytest.raises(UnknownFilter, match="did you mean articleType"):
        cat.resolve_where({"articletyp": ["Shirts"]})
    with pytest.raises(UnknownFilter, match="did you mean Shirts"):
        cat.resolve_where({"articleType": ["Shirtz"]})


def test_a_write_that_reads_first_waits_for_another_writer_instead_of_failing(cat):
    """Two connections write at once, the first reading before it writes (as the review
    refit does when it stores its thresholds beside an accept). A deferred transaction
    would fail at its first write with "database is locked", without waiting; an
    immediate one makes the second writer wait its turn, and both land."""
    cat.set_meta("n", 0)
    inside, second_started, errors = threading.Event(), threading.Event(), []

    def second_writer():
        other = Catalogue(cat.path)
        try:
            inside.wait(5)
            second_started.set()
            other.set_meta("other", 1)
        except sqlite3.Error as e:
            errors.append(e)
        finally:
            other.close()

    t = threading.Thread(target=second_writer)
    t.start()
    with cat.transaction():
        n = cat.get_meta("n")  # the read that pins this transaction's snapshot
        inside.set()
        second_started.wait(5)
        t.join(0.5)  # a deferred transaction lets the other writer commit meanwhile
        cat.set_meta("n", n + 1)
    t.join()
    assert errors == [] and cat.get_meta("n") == 1 and cat.get_meta("other") == 1
