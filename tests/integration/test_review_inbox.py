"""The review inbox through the library (issue 27, in progress): an accepted item is a
catalogue product and a neighbour of its own photo at once; undo takes it back."""

import csv

import pytest

import shelfsight

pytestmark = pytest.mark.integration


@pytest.fixture()
def new_photo(fashion_dir, ids):
    have = set(ids)
    with open(fashion_dir / "styles.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["id"] not in have)
    return fashion_dir / "images" / f"{row['id']}.jpg", row


def test_accept_makes_the_photo_a_neighbour_of_its_next_tagging_and_undo_restores(home, new_photo):
    photo, row = new_photo
    shelf = shelfsight.open(home)
    before = shelf.tag(photo)
    assert before.match.duplicate_of is None
    (item,) = shelf.review.keep([before], [photo], titles=[row["productDisplayName"]])
    assert [i.id for i in shelf.review.items()] == [item]
    kept = shelf.review.get(item)
    assert kept.suggested["articleType"].value == before.tags["articleType"].value
    corrected = "Watches" if before.tags["articleType"].value != "Watches" else "Belts"
    done = shelf.review.accept(item, {"articleType": corrected}, product_id="new-1", by="k")
    assert done.status == "accepted" and done.product_id == "new-1"
    assert shelf.product("new-1").tags["articleType"] == corrected
    after = shelf.tag(photo)
    # The catalogue now holds the photo: it is reported as that product (its copies never
    # vote for themselves).
    assert after.match.duplicate_of == "new-1"
    stats = shelf.review.stats()["articleType"]["all"]
    assert stats["decisions"] == 1 and (stats["flagged_kept"] + stats["unflagged_kept"]) == 0
    with pytest.raises(shelfsight.BadInput, match="no suggested tag"):
        shelf.review.accept(item, {"colourr": "Red"})
    undone = shelf.review.undo(item)
    assert undone.status == "pending"
    with pytest.raises(shelfsight.NotFound):
        shelf.product("new-1")
    assert shelf.tag(photo).match.duplicate_of is None
