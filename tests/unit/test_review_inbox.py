"""The review inbox's store (issue 27, first brick): items kept whole, decisions recorded
per family, undo, and the counts ``stats`` gives on a planted sequence."""

import pytest

from shelfsight.core.errors import BadInput
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.review_inbox import ReviewInbox, Suggestion, held_image_paths


def suggestion(gender, gender_flag, kind, kind_flag):
    return {
        "gender": Suggestion(gender, 0.9 if not gender_flag else 0.4, gender_flag),
        "articleType": Suggestion(kind, 0.8 if not kind_flag else 0.3, kind_flag, [("Tops", 0.2)]),
    }


@pytest.fixture()
def inbox(tmp_path):
    return ReviewInbox(Catalogue(tmp_path / "catalogue.db"))


def test_kept_items_are_listed_filtered_and_decided_once(inbox):
    ids = inbox.keep(
        [suggestion("Men", False, "Tshirts", False), suggestion("Women", True, "Tops", True)],
        titles=["Roadster Men Blue Tshirt", ""],
    )
    assert [i.id for i in inbox.items()] == ids
    assert [i.id for i in inbox.items(needs_review=True)] == [ids[1]]
    assert [i.id for i in inbox.items(family="articleType", value="Tshirts")] == [ids[0]]
    item = inbox.get(ids[1])
    assert item.flagged == ["gender", "articleType"] and item.suggested["articleType"].alternatives
    accepted = inbox.decide(ids[0], {"gender": "Men", "articleType": "Tshirts"}, by="key-a")
    assert accepted.status == "accepted" and accepted.decided_by == "key-a"
    with pytest.raises(BadInput, match="already accepted"):
        inbox.decide(ids[0], {}, by="key-a")
    assert inbox.decide(ids[1], None).status == "rejected"
    assert inbox.items() == [] and len(inbox.items(status=None)) == 2
    assert len(list(inbox.decisions())) == 2  # a rejection records no tag decision


def test_a_batch_is_kept_whole_or_not_at_all(inbox):
    with pytest.raises(BadInput, match="differ in number"):
        inbox.keep([suggestion("Men", False, "Tshirts", False)] * 2, titles=["only one"])
    assert inbox.items(status=None) == []


def test_undo_forgets_the_decisions(inbox):
    (item,) = inbox.keep([suggestion("Men", False, "Tshirts", False)])
    inbox.decide(item, {"articleType": "Shirts"})
    assert inbox.undo(item).status == "pending" and list(inbox.decisions()) == []
    with pytest.raises(BadInput, match="no decision"):
        inbox.undo(item)


def test_stats_count_kept_and_changed_flagged_and_unflagged_apart(inbox):
    # 3 unflagged genders kept, 1 changed; 2 flagged types changed, 2 kept.
    plan = [
        (("Men", False, "Tshirts", True), {"gender": "Men", "articleType": "Shirts"}),
        (("Men", False, "Tshirts", True), {"gender": "Men", "articleType": "Tops"}),
        (("Men", False, "Tshirts", True), {"gender": "Men"}),
        (("Men", False, "Tshirts", True), {"gender": "Women"}),
    ]
    ids = inbox.keep([suggestion(*s) for s, _ in plan])
    for item, (_, final) in zip(ids, plan, strict=True):
        inbox.decide(item, final)
    stats = inbox.stats()
    gender, kind = stats["gender"]["all"], stats["articleType"]["all"]
    assert (gender["unflagged"], gender["unflagged_kept"], gender["flagged"]) == (4, 3, 0)
    assert gender["unflagged_kept_share"] == 0.75 and gender["flagged_kept_share"] is None
    assert (kind["flagged"], kind["flagged_kept"], kind["flagged_kept_share"]) == (4, 2, 0.5)
    weeks = [p for p in stats["gender"] if p != "all"]
    assert len(weeks) == 1 and stats["gender"][weeks[0]]["decisions"] == 4


def test_a_bulk_accept_records_only_the_flagged_and_corrected_tags_as_looked_at(inbox):
    ids = inbox.keep([suggestion("Men", False, "Tshirts", True)] * 2)
    inbox.decide(ids[0], {"articleType": "Tops"}, looked={"articleType"})
    inbox.decide(ids[1], {"gender": "Women"}, looked={"articleType"})  # corrected: seen
    looked = {(d["item_id"], d["family"]): d["looked"] for d in inbox.decisions()}
    assert looked == {
        (ids[0], "gender"): 0,
        (ids[0], "articleType"): 1,
        (ids[1], "gender"): 1,
        (ids[1], "articleType"): 1,
    }


def test_filters_on_one_familys_flag_and_pages(inbox):
    ids = inbox.keep(
        [
            suggestion("Men", True, "Tshirts", False),
            suggestion("Men", False, "Tshirts", False),
            suggestion("Women", False, "Tops", True),
        ]
    )
    assert [i.id for i in inbox.items(family="gender", needs_review=True)] == [ids[0]]
    assert [i.id for i in inbox.items(family="articleType", needs_review=False)] == ids[:2]
    assert [i.id for i in inbox.items(needs_review=False)] == [ids[1]]
    assert [i.id for i in inbox.items(limit=1, offset=1)] == [ids[1]]
    assert inbox.items(family="colour") == []
    with pytest.raises(BadInput, match="needs its family"):
        inbox.items(value="Men")
    assert inbox.counts() == {"pending": 3, "accepted": 0, "rejected": 0}
    assert inbox.get(2**70) is None and inbox.get(-1) is None  # no item, no SQLite error


def test_a_kept_photo_is_held_whatever_the_items_status(inbox):
    kept, other = f"/w/images/ab/{'ab' * 32}.jpg", f"/w/images/cd/{'cd' * 32}.jpg"
    (item,) = inbox.keep([suggestion("Men", False, "Tshirts", False)], image_paths=[kept])
    assert held_image_paths(inbox.catalogue, [kept, other]) == {kept}
    inbox.decide(item, None)
    assert held_image_paths(inbox.catalogue, [kept]) == {kept}
    assert held_image_paths(inbox.catalogue, [other]) == set()
