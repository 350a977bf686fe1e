"""The shared validators refuse text that no database stores, wherever it comes from (a form, an
upload, the API, a service called directly): NUL characters and unpaired surrogates, including
those that JSON escapes (\\u0000, \\ud800) decode to."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from console import validation
from engines_app import schema
from engines_app.providers.embedded.code_engine.forms import MAX_ROWS, posted_row_count

UNSTORABLE = ["a\x00b", "\ud800", "x\udfffy"]


@pytest.mark.parametrize("value", UNSTORABLE)
def test_descriptions_and_values_refuse_unstorable_text(value):
    with pytest.raises(ValidationError) as caught:
        validation.validate_description(value)
    assert "description" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        validation.validate_arbitrary_payload(value)
    assert "base64" in caught.value.message_dict["payload"][0]


@pytest.mark.parametrize(
    ("metadata", "where"),
    [
        ({"owner": "a\x00b"}, "at owner"),
        ({"deep": {"list": ["ok", "\ud800"]}}, "at deep.list.1"),
        ({"a\x00b": 1}, "has a key that"),
    ],
)
def test_metadata_names_where_the_unstorable_text_is(metadata, where):
    with pytest.raises(ValidationError) as caught:
        validation.validate_metadata(metadata)
    assert where in caught.value.message_dict["custom_metadata"][0]


def test_metadata_text_with_escapes_is_refused_not_a_crash():
    for text in ('{"k": "\\u0000"}', '{"k": "\\ud800"}'):
        with pytest.raises(ValidationError):
            validation.parse_metadata_json(text)


def test_text_that_looks_odd_but_is_unicode_is_kept():
    for value in ("invoice\u202efdp.exe", "cafe\u0301", "\U0001f512 locked"):
        assert validation.validate_description(value) == value
        assert validation.validate_metadata({"note": value}) == {"note": value}


def test_string_parameters_have_the_forms_limit_in_the_api_too():
    declared = {"parameters": [{"name": "user_name", "format": "type:string, required:true"}]}
    declared["credentials"] = [{"name": "token", "format": "type:string, required:true"}]
    long = "a" * (schema.PARAMETER_STRING_MAX + 1)
    with pytest.raises(ValidationError, match="longer than 10000 characters"):
        schema.validate_against(declared, {"user_name": long}, kind="parameter", field="parameters")
    ok = "a" * schema.PARAMETER_STRING_MAX
    assert schema.validate_against(declared, {"user_name": ok}, kind="parameter", field="p")


@pytest.mark.parametrize(
    ("posted", "rows"),
    [
        ("3", 3),
        ("", 0),
        ("twelve", 0),
        ("-3", 0),
        ("\u00b2", 0),
        ("9" * 5000, 0),
        ("9999", MAX_ROWS),
    ],
)
def test_the_posted_row_count_is_read_safely(posted, rows):
    assert posted_row_count({"env-TOTAL_FORMS": posted}) == rows
