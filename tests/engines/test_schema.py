"""Schema derivation from SMIN_/SMOUT_ variables (sm-api.md §5.2) and parameter validation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from engines_app import schema as s

CERT_ENV = {
    "SMIN_COMMON_NAME": "type:string, required:true",
    "SMIN_EXPIRATION_DAYS": "type:integer, required:false",
    "SMIN_KEY_ALGO": "type:enum[RSA|ECDSA], required:false",
    "SMIN_LOGIN_SECRET_ID": "type:secret_id",
    "SMIN_VERBOSE": " required:false ,type:boolean ",
    "SMOUT_CERTIFICATE_BASE64": "type:string, required:true",
    "SMOUT_SERIAL": "type:integer",
    "CE_REMOVE_COMPLETED_JOBS": "IMMEDIATELY",
    "OTHER_SETTING": "anything",
}


def test_valid_declarations_map_names_as_ibm_does():
    schema = s.derive_schema(CERT_ENV)
    params = {p["name"]: p for p in schema["parameters"]}
    assert set(params) == {
        "common_name",
        "expiration_days",
        "key_algo",
        "login_secret_id",
        "verbose",
    }
    assert params["common_name"] == {
        "name": "common_name",
        "format": "type:string, required:true",
        "env_variable_name": "SM_COMMON_NAME_VALUE",
    }
    assert params["verbose"]["format"] == "required:false ,type:boolean"
    assert [c["name"] for c in schema["credentials"]] == ["certificate_base64", "serial"]
    assert "env_variable_name" not in schema["credentials"][0]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMIN_lower": "type:string"}, "SMIN_lower: names must be SMIN_ or SMOUT_"),
        ({"SMIN_A-B": "type:string"}, "SMIN_A-B: names must be"),
        ({"SMIN_X": "required:true"}, "SMIN_X: the type attribute is mandatory"),
        ({"SMIN_X": "type:float"}, "SMIN_X: unknown type 'float'"),
        ({"SMIN_X": "type:int"}, "SMIN_X: unknown type 'int'"),
        ({"SMIN_X": "type:string, required:yes"}, "SMIN_X: required must be true or false"),
        ({"SMIN_X": "type:string, default:abc"}, "SMIN_X: unknown attribute 'default'"),
        ({"SMIN_X": "type:string, type:integer"}, "SMIN_X: attribute 'type' is given twice"),
        ({"SMIN_X": "type:enum[ONLY]"}, "SMIN_X: an enum needs at least two"),
        ({"SMIN_X": "type:enum[A|]"}, "SMIN_X: an enum needs at least two"),
        ({"SMIN_X": "string"}, "SMIN_X: 'string' is not a key:value attribute"),
        (
            {"SMOUT_X": "type:secret_id, required:true"},
            "SMOUT_X: outputs can be string, integer or boolean",
        ),
        ({"SM_ACTION": "type:string"}, "SM_ACTION: this variable is set by Secrets Manager"),
        (
            {"SMOUT_X": "type:string, required:false"},
            "at least one SMOUT_ variable needs required:true",
        ),
        ({"SMIN_X": "type:string"}, "at least one SMOUT_ variable needs required:true"),
    ],
)
def test_invalid_declarations_name_the_variable(env, message):
    full = (
        {"SMOUT_OK": "type:string, required:true", **env} if "required:true" not in message else env
    )
    with pytest.raises(ValidationError) as exc:
        s.derive_schema(full)
    assert any(message in m for m in exc.value.messages), exc.value.messages


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as exc:
        s.derive_schema(
            {"SMIN_A": "type:float", "SMIN_B": "nope", "SMOUT_C": "type:string, required:true"}
        )
    assert len(exc.value.messages) == 2


SCHEMA = s.derive_schema(CERT_ENV)


def validate(values):
    return s.validate_against(SCHEMA, values, kind="parameter", field="parameters")


def test_valid_parameters():
    values = {
        "common_name": "example.com",
        "expiration_days": 90,
        "key_algo": "ECDSA",
        "login_secret_id": "d898bb90-82f6-4d61-b5cc-b079b66cfa76",
        "verbose": True,
    }
    assert validate(values) == values
    assert validate({"common_name": "x"}) == {"common_name": "x"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "common_name is required."),
        (
            {"common_name": "x", "expiration_days": "90"},
            "expiration_days must be of type integer; got '90'",
        ),
        ({"common_name": "x", "expiration_days": 1.5}, "expiration_days must be of type integer"),
        ({"common_name": "x", "key_algo": "DSA"}, "key_algo must be one of RSA, ECDSA; got 'DSA'"),
        ({"common_name": "x", "verbose": "yes"}, "verbose must be of type boolean"),
        (
            {"common_name": "x", "login_secret_id": "not-a-uuid"},
            "login_secret_id must be a secret id",
        ),
        ({"common_name": "x", "colour": "blue"}, "unknown parameter(s): colour"),
    ],
)
def test_invalid_parameters(values, message):
    with pytest.raises(ValidationError) as exc:
        validate(values)
    assert any(message in m for m in exc.value.message_dict["parameters"]), exc.value.message_dict


def test_payload_errors_never_quote_the_value():
    with pytest.raises(ValidationError) as exc:
        s.validate_against(
            SCHEMA,
            {"certificate_base64": 12345, "serial": "SECRET-ish"},
            kind="credential",
            field="payload",
        )
    text = " ".join(exc.value.message_dict["payload"])
    assert "SECRET-ish" not in text and "12345" not in text
    assert "certificate_base64 does not match the declared format" in text


def test_env_values():
    assert s.env_value(True) == "true" and s.env_value(False) == "false" and s.env_value(90) == "90"


def test_a_schema_is_checked_once_and_a_changed_one_is_its_own(monkeypatch):
    """The JSON Schema of a stored schema is built and self-checked once (issue 13: it was 28 %
    of a create's CPU); another schema, e.g. a new configuration version, gets its own."""
    checks = []
    real = s.Draft202012Validator.check_schema
    monkeypatch.setattr(
        s.Draft202012Validator, "check_schema", lambda schema: checks.append(1) or real(schema)
    )
    s._validator.cache_clear()
    for _ in range(3):
        assert validate({"common_name": "x"}) == {"common_name": "x"}
    assert len(checks) == 1
    narrower = s.derive_schema(
        {
            "SMIN_COMMON_NAME": "type:string, required:true",
            **{k: v for k, v in CERT_ENV.items() if k.startswith("SMOUT_")},
        }
    )
    with pytest.raises(ValidationError, match="unknown parameter"):
        s.validate_against(
            narrower, {"common_name": "x", "verbose": True}, kind="parameter", field="parameters"
        )
    assert len(checks) == 2
    assert validate({"common_name": "x", "verbose": True})["verbose"] is True
