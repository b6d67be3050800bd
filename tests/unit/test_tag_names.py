"""One rule for tag families and values (issue 24): families match whatever their case, so
a new spelling joins the catalogue's family instead of shadowing it; names and values that
a spreadsheet would run as a formula, or that hold control characters, are refused; a
family no product holds is forgotten."""

import pytest

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.tag_names import BadTag, canonical_families, check_family, value_problem


def record(key, **tags):
    return {"key": key, "id": f"p{key}", "title": "t", "image_path": None,
            "image_sha256": None, "tags": tags, "fields": {}}  # fmt: skip


@pytest.fixture()
def cat(tmp_path):
    c = Catalogue(tmp_path / "c.db")
    yield c
    c.close()


@pytest.mark.parametrize("name", ["", "a=b", "x\x00", "=cmd", "-x", "@x", " gender", "a" * 65])
def test_bad_family_names_are_refused(name):
    with pytest.raises(BadTag):
        check_family(name)


@pytest.mark.parametrize("name", ["gender", "articleType", "Product Category", "size (EU)"])
def test_ordinary_family_names_pass(name):
    assert check_family(name) == name


@pytest.mark.parametrize("value", ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", "a\x1bb"])
def test_formula_and_control_values_are_refused(value):
    assert value_problem(value)


def test_a_new_spelling_maps_onto_the_known_family_and_two_in_one_listing_are_refused():
    assert canonical_families(["GENDER", "usage"], ["gender"]) == {
        "GENDER": "gender",
        "usage": "usage",
    }
    with pytest.raises(BadTag, match="same family"):
        canonical_families(["gender", "Gender"], [])


def test_filters_keep_working_after_an_odd_spelling_and_its_family_is_pruned(cat):
    cat.upsert_products([record(1, gender="Men"), record(2, gender="Men")])
    cat.add_tag_families(["gender"])
    odd = cat.family_names(["GENDER"])["GENDER"]
    assert odd == "gender"
    # What older versions let in: a family of its own. Filters still find all the Men.
    cat.upsert_products([record(3, GENDER="Women")])
    cat.add_tag_families(["GENDER"])
    assert cat.resolve_where({"gender": ["men"]}) == {"gender": ["Men"]}
    assert len(cat.keys_matching(cat.resolve_where({"gender": ["Men"]}))) == 2
    cat.delete_product("p3")
    assert cat.tag_families() == ["gender"]  # nothing holds GENDER now


def test_the_catalogue_refuses_a_formula_value_even_if_a_caller_forgot(cat):
    with pytest.raises(BadTag):
        cat.upsert_products([record(1, articleType="=cmd|' /C calc'!A0")])
    assert cat.count() == 0
