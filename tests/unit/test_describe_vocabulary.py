"""Words a description may use: the catalogue's, and this product's facts."""

from shelfsight.tagging.describe.facts import Facts
from shelfsight.tagging.describe.vocabulary import Vocabulary, remove_nonwords

VOCAB = Vocabulary.from_texts(
    [
        "Navy blue checked casual shirt, has a spread collar, long sleeves, curved hem",
        "A men's cardigan for everyday layering, has three-quarter sleeves",
        "Olive green solid trousers",
    ]
)
FACTS = Facts(title="Roadster Men Olive Shirt", brand="Roadster")


def found(text):
    return [w for w, _, _ in VOCAB.unknown(text, FACTS)]


def test_invented_words_are_found_and_real_ones_are_not():
    assert found("A men's cardigamer for men") == ["cardigamer"]
    assert found("Navy t-jacket") == ["t-jacket"]
    # Plurals, possessives, compounds of known words and the facts' own words are words.
    assert found("Roadster shirts, olive-green, three-quarter sleeves, men's cardigan") == []


def test_a_clause_with_a_nonword_goes_and_a_subject_takes_its_sentence():
    text = "Navy shirt, has a flurbish collar, long sleeves."
    assert remove_nonwords(text, VOCAB.unknown(text, FACTS)) == "Navy shirt, long sleeves."
    text = "A men's cardigamer for men, has a spread collar. Olive shirt, long sleeves."
    assert remove_nonwords(text, VOCAB.unknown(text, FACTS)) == "Olive shirt, long sleeves."


def test_nothing_found_leaves_the_text_alone():
    text = "Navy blue checked casual shirt, has a spread collar"
    assert remove_nonwords(text, VOCAB.unknown(text, FACTS)) == text


def test_function_words_need_no_catalogue_text():
    titles_only = Vocabulary.from_texts(["Roadster Men Navy Blue Checked Shirt"])
    text = "A navy blue shirt for men, with a collar of its own."
    assert [w for w, _, _ in titles_only.unknown(text)] == ["collar"]


def test_a_catalogue_of_titles_alone_also_takes_general_english():
    titles = ["Roadster Men Navy Blue Checked Shirt"]
    general = Vocabulary.from_texts(titles, general=True)
    assert [w for w, _, _ in general.unknown("A smart everyday shirt, has a collar")] == []
    assert [w for w, _, _ in general.unknown("A navy cardigamer, t-jacket")] == [
        "cardigamer",
        "t-jacket",
    ]
