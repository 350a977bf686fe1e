"""The rules of reference/sm-api.md §7.2 that the foundation enforces."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from console import validation as v


def error_for(exc: pytest.ExceptionInfo[ValidationError], field: str) -> str:
    return " ".join(exc.value.message_dict[field])


@pytest.mark.parametrize("name", ["ab", "my-secret", "my_secret.v2", "_x9", "A" * 256, "a.b-c_d"])
def test_valid_secret_names(name):
    assert v.validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("", "required"),
        ("a", "2 to 256"),
        ("A" * 257, "2 to 256"),
        ("-leading", "not allowed"),
        ("trailing-", "not allowed"),
        ("has space", "not allowed"),
        ("ünïcode", "not allowed"),
        ("semi;colon", "not allowed"),
    ],
)
def test_invalid_secret_names(name, hint):
    with pytest.raises(ValidationError) as exc:
        v.validate_name(name)
    assert hint in error_for(exc, "name")


def test_group_names_are_limited_to_64():
    assert v.validate_group_name("g" * 64)
    with pytest.raises(ValidationError) as exc:
        v.validate_group_name("g" * 65)
    assert "2 to 64" in error_for(exc, "name")


def test_configuration_names_are_limited_to_128():
    assert v.validate_configuration_name("c" * 128)
    with pytest.raises(ValidationError):
        v.validate_configuration_name("c" * 129)


def test_description_is_limited_to_1024():
    assert v.validate_description("d" * 1024)
    assert v.validate_description(None) == ""
    with pytest.raises(ValidationError) as exc:
        v.validate_description("d" * 1025)
    assert "1024" in error_for(exc, "description")


@pytest.mark.parametrize(
    ("labels", "hint"),
    [
        ([f"l{i:02d}" for i in range(31)], "at most 30"),
        (["x"], "2 to 64"),
        (["y" * 65], "2 to 64"),
        (["dup", "dup"], "twice"),
        ([5], "text"),
    ],
)
def test_label_rules(labels, hint):
    with pytest.raises(ValidationError) as exc:
        v.validate_labels(labels)
    assert hint in error_for(exc, "labels")


def test_thirty_labels_are_fine():
    assert len(v.validate_labels([f"l{i:02d}" for i in range(30)])) == 30


def test_metadata_must_be_an_object_of_at_most_10_kb():
    assert v.validate_metadata({"k": "x" * 10_000}) == {"k": "x" * 10_000}
    with pytest.raises(ValidationError) as exc:
        v.validate_metadata({"k": "x" * 10_300})
    assert "10 KB" in error_for(exc, "custom_metadata")
    with pytest.raises(ValidationError) as exc:
        v.validate_metadata(["not", "an", "object"], field="version_custom_metadata")
    assert "JSON object" in error_for(exc, "version_custom_metadata")


def test_metadata_json_errors_point_at_the_problem():
    with pytest.raises(ValidationError) as exc:
        v.parse_metadata_json('{\n  "a": 1,\n  "b": }')
    assert "line 3, column 8" in error_for(exc, "custom_metadata")
    assert v.parse_metadata_json("") == {}


@pytest.mark.parametrize(
    ("ttl", "secret_type", "seconds"),
    [
        ("1m", "iam_credentials", 60),
        ("60", "iam_credentials", 60),
        ("90d", "iam_credentials", 90 * 86400),
        ("24h", "custom_credentials", 86400),
        ("86400", "service_credentials", 86400),
        ("0", "service_credentials", None),
        (None, "custom_credentials", None),
    ],
)
def test_ttl_ranges_per_type(ttl, secret_type, seconds):
    assert v.parse_ttl(ttl, secret_type=secret_type) == seconds


@pytest.mark.parametrize(
    ("ttl", "secret_type", "hint"),
    [
        (None, "iam_credentials", "required"),
        ("59s", "iam_credentials", "between 1 minute and 90 days"),
        ("91d", "iam_credentials", "between"),
        ("23h", "custom_credentials", "between 1 day and 90 days"),
        ("1w", "custom_credentials", "not a duration"),
        ("12345678901", "iam_credentials", "not a duration"),
        ("-5m", "iam_credentials", "not a duration"),
        ("1d", "arbitrary", "do not take a ttl"),
    ],
)
def test_ttl_errors(ttl, secret_type, hint):
    with pytest.raises(ValidationError) as exc:
        v.parse_ttl(ttl, secret_type=secret_type)
    assert hint in error_for(exc, "ttl")


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 600), ("5m", 300), ("24h", 86400), ("3600", 3600), ("1d", 86400)]
)
def test_task_timeout_accepts_5_minutes_to_24_hours(value, seconds):
    assert v.parse_task_timeout(value)[1] == seconds


@pytest.mark.parametrize("value", ["4m", "25h", "2d", "1234567", "10x"])
def test_task_timeout_rejects_out_of_range_or_malformed(value):
    with pytest.raises(ValidationError) as exc:
        v.parse_task_timeout(value)
    assert exc.value.message_dict["task_timeout"]


def test_rotation_policy_rules():
    ok = v.validate_rotation(
        {"auto_rotate": True, "interval": 6, "unit": "hour"}, secret_type="custom_credentials"
    )
    assert ok == {"auto_rotate": True, "interval": 6, "unit": "hour"}
    assert v.validate_rotation({"auto_rotate": False}, secret_type="iam_credentials") == {
        "auto_rotate": False
    }
    assert v.validate_rotation(None, secret_type="iam_credentials") is None


@pytest.mark.parametrize(
    ("rotation", "kwargs", "hint"),
    [
        ({"interval": 1, "unit": "day"}, {}, "auto_rotate"),
        ({"auto_rotate": True, "interval": 5, "unit": "hour"}, {}, "between 6 hours and 3 months"),
        ({"auto_rotate": True, "interval": 4, "unit": "month"}, {}, "between"),
        ({"auto_rotate": True, "interval": 0, "unit": "day"}, {}, "at least 1"),
        ({"auto_rotate": True, "interval": 1, "unit": "week"}, {}, "hour, day or month"),
        (
            {"auto_rotate": True, "interval": 10, "unit": "day"},
            {"ttl_seconds": 86400},
            "cannot be longer than the lease",
        ),
        (
            {"auto_rotate": True, "interval": 1, "unit": "day", "extra": 1},
            {},
            "Unknown rotation field",
        ),
    ],
)
def test_rotation_errors_for_custom_credentials(rotation, kwargs, hint):
    with pytest.raises(ValidationError) as exc:
        v.validate_rotation(rotation, secret_type="custom_credentials", **kwargs)
    assert hint in error_for(exc, "rotation")


def test_iam_rotation_needs_reuse_and_a_day_minimum():
    policy = {"auto_rotate": True, "interval": 1, "unit": "day"}
    with pytest.raises(ValidationError) as exc:
        v.validate_rotation(policy, secret_type="iam_credentials", reuse_api_key=False)
    assert "Reuse IAM credentials" in error_for(exc, "rotation")
    assert v.validate_rotation(policy, secret_type="iam_credentials", reuse_api_key=True)
    with pytest.raises(ValidationError):
        v.validate_rotation(
            {"auto_rotate": True, "interval": 12, "unit": "hour"}, secret_type="service_credentials"
        )


def test_arbitrary_payload_limit():
    assert v.validate_arbitrary_payload("x" * 1_000_000)
    with pytest.raises(ValidationError) as exc:
        v.validate_arbitrary_payload("x" * 1_000_001)
    assert "1 MB" in error_for(exc, "payload")
    with pytest.raises(ValidationError):
        v.validate_arbitrary_payload("")


def test_expiration_date_must_be_future_and_aware():
    future = timezone.now() + timedelta(days=1)
    assert v.validate_expiration_date(future) == future
    with pytest.raises(ValidationError, match="future"):
        v.validate_expiration_date(timezone.now() - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="time zone"):
        v.validate_expiration_date(future.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("func", "good", "bad"),
    [
        (v.validate_secret_group_id, "default", "Default"),
        (v.validate_secret_group_id, "d898bb90-82f6-4d61-b5cc-b079b66cfa76", "d898bb90"),
        (v.validate_task_id, "sm-task-b49ad24d-81d4-5ebc-b9b9-b0937d1c84d5", "task-b49ad24d"),
        (v.validate_service_id, "ServiceId-c0c7cfa4-b24e-4917-ad74-278f2fee5ba0", "ServiceId-123"),
        (
            v.validate_account_id,
            "a5ebf2570dcaedf18d7ed78e216c263a",
            "A5EBF2570DCAEDF18D7ED78E216C263A",
        ),
    ],
)
def test_identifier_formats(func, good, bad):
    assert func(good) == good
    with pytest.raises(ValidationError):
        func(bad)


def test_access_groups_between_1_and_10():
    groups = [f"AccessGroupId-{i:04d}-abcd" for i in range(10)]
    assert v.validate_access_groups(groups) == groups
    with pytest.raises(ValidationError, match="1 to 10"):
        v.validate_access_groups([*groups, "AccessGroupId-extra-1"])
    with pytest.raises(ValidationError, match="1 to 10"):
        v.validate_access_groups([])
    with pytest.raises(ValidationError, match="not an access group"):
        v.validate_access_groups(["group-1"])
