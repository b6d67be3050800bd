"""Each --shift mode builds the query set it names, on a small table."""

from collections import Counter

import pytest

from shelfsight.indexer.ingest import Row
from shelfsight.tagging.evaluation.shift import MIN_UNSEEN_ROWS, Shift, apply_shift, parse_shift


def table():
    """60 rows: Shirts x30, Jeans x15, Watches x8, Rings x4, Socks x2, Cap x1."""
    counts = {"Shirts": 30, "Jeans": 15, "Watches": 8, "Rings": 4, "Socks": 2, "Cap": 1}
    rows, n = [], 0
    for kind, c in counts.items():
        for _ in range(c):
            n += 1
            rows.append(Row(n + 1, {"id": str(n), "kind": kind, "g": "Men" if n % 2 else "Women"}))
    return rows


def kinds(rows):
    return Counter(r.values["kind"] for r in rows)


def test_parse():
    assert parse_shift("random") == Shift()
    assert parse_shift("unseen:kind:3") == Shift("unseen", "kind", 3)
    assert parse_shift("rare") == Shift("rare", None, 10)
    assert parse_shift("rare:kind:4").count == 4
    assert parse_shift("balanced:g:Men=3,Women=1").mix == (("Men", 0.75), ("Women", 0.25))
    assert parse_shift("unseen:kind:3").label == "unseen:kind:3"
    for bad in ("sideways", "unseen:kind", "unseen:kind:x", "balanced:g:Men", "rare:kind:1"):
        with pytest.raises(ValueError):
            parse_shift(bad)


def test_unseen_values_are_absent_from_the_catalogue_and_all_become_queries():
    rows = table()
    split = apply_shift(rows, parse_shift("unseen:kind:2"), "kind", 0.2, seed=1)
    held = set(split.held_out_values)
    assert len(held) == 2
    assert all(kinds(rows)[v] >= MIN_UNSEEN_ROWS for v in held)
    assert not held & set(kinds(split.catalog))
    unseen = [split.queries[i] for i in split.groups["unseen"]]
    assert kinds(unseen) == {v: kinds(rows)[v] for v in held}
    seen = [split.queries[i] for i in split.groups["seen"]]
    assert seen and not held & set(kinds(seen))
    assert len(split.catalog) + len(split.queries) == len(rows)


def test_unseen_refuses_to_hold_out_everything():
    with pytest.raises(ValueError, match="hold out fewer"):
        apply_shift(table(), parse_shift("unseen:kind:3"), "kind", 0.2, seed=0)


def test_balanced_queries_are_near_uniform_over_the_family():
    rows = table()
    random_split = apply_shift(rows, Shift(), "kind", 0.3, seed=0)
    split = apply_shift(rows, parse_shift("balanced:kind"), "kind", 0.3, seed=0)
    assert split.catalog == random_split.catalog  # only the queries change
    before, after = kinds(random_split.queries), kinds(split.queries)
    quota = -(-len(random_split.queries) // len(before))
    assert before["Shirts"] > quota
    for kind, n in before.items():  # each value: up to the quota, or all it has
        assert after[kind] == min(n, quota)


def test_balanced_to_a_given_mix():
    split = apply_shift(table(), parse_shift("balanced:g:Men=3,Women=1"), "kind", 0.5, seed=0)
    g = Counter(r.values["g"] for r in split.queries)
    assert g["Women"] > 0 and g["Men"] / (g["Men"] + g["Women"]) == pytest.approx(0.75, abs=0.05)


def test_rare_values_give_half_their_rows_as_queries():
    rows = table()
    split = apply_shift(rows, parse_shift("rare:kind:8"), "kind", 0.2, seed=0)
    rare = kinds([split.queries[i] for i in split.groups["rare"]])
    assert rare == {"Watches": 4, "Rings": 2, "Socks": 1}
    cat = kinds(split.catalog)
    assert cat["Watches"] == 4 and cat["Rings"] == 2 and cat["Socks"] == 1 and cat["Cap"] == 1
    common = kinds([split.queries[i] for i in split.groups["common"]])
    assert set(common) <= {"Shirts", "Jeans"}


def test_after_splits_in_time_order_numbers_as_numbers():
    rows = [Row(n + 2, {"id": str(n), "kind": "Shirts", "year": y}) for n, y in
            enumerate(["2009", "2011", "2015", "2016", "2012", "100"])]  # fmt: skip
    split = apply_shift(rows, parse_shift("after:year:2015"), "kind", 0.2, seed=0)
    assert sorted(r.values["year"] for r in split.queries) == ["2015", "2016"]
    assert sorted(r.values["year"] for r in split.catalog) == ["100", "2009", "2011", "2012"]
    assert split.groups == {"all": [0, 1]}
    assert parse_shift("after:year:2015").label == "after:year:2015"
    for bad in ("after", "after:year", "after::2015"):
        with pytest.raises(ValueError):
            parse_shift(bad)
    with pytest.raises(ValueError, match="no catalogue or no queries"):
        apply_shift(rows, parse_shift("after:year:3000"), "kind", 0.2, seed=0)
