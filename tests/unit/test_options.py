"""Options are dataclasses; the keyword forms the library also takes are typed from them
and cannot drift from them; a wrong one is refused before any work."""

import dataclasses
import typing

import pytest

import shelfsight
from shelfsight.tagging.describe.writer import DescribeChanges, DescribeOptions, describe_options
from shelfsight.tagging.neighbour_tags.pipeline import (
    PipelineOptions,
    TagChanges,
    UnknownAttributes,
    pipeline_options,
)


@pytest.mark.parametrize(
    ("typed", "options"), [(TagChanges, PipelineOptions), (DescribeChanges, DescribeOptions)]
)
def test_the_keyword_forms_name_every_option_and_nothing_else(typed, options):
    assert set(typing.get_type_hints(typed)) == {f.name for f in dataclasses.fields(options)}


def test_changes_apply_to_a_base_and_are_checked():
    base = PipelineOptions(k=7)
    opts = pipeline_options(base, {"attributes": " colour , ocr ", "min_score": 0.2})
    assert opts.k == 7 and opts.attributes == ("colour", "ocr") and opts.min_score == 0.2
    assert base.attributes != opts.attributes  # the base is left as it was
    assert pipeline_options(None, {"attributes": ["shape"]}).attributes == ("shape",)
    with pytest.raises(UnknownAttributes, match="unknown attributes") as err:
        pipeline_options(None, {"attributes": "colour,smell"})
    assert err.value.error == "bad attributes" and isinstance(err.value, shelfsight.BadInput)
    with pytest.raises(shelfsight.BadInput, match="k must be at least 1"):
        pipeline_options(None, {"k": 0})
    with pytest.raises(shelfsight.BadInput, match="unexpected keyword"):
        pipeline_options(None, {"colour": "red"})


def test_describe_options_refuse_unknown_lengths_tones_and_names():
    assert describe_options(DescribeOptions(timeout=5), {"length": "short"}).timeout == 5
    for changes in ({"length": "epic"}, {"tone": "sarcastic"}, {"colour": "red"}):
        with pytest.raises(shelfsight.BadInput):
            describe_options(None, changes)


def test_the_option_classes_are_exported():
    for name in ("PipelineOptions", "DescribeOptions", "TaggingEvalOptions"):
        assert dataclasses.is_dataclass(getattr(shelfsight, name))
