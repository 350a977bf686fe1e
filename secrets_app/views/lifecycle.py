"""Console views for what happens to a secret after Add: Reveal, Rotate, Edit, version metadata
and Delete. The services check the permissions again and write; these views check them first
(the access helper on their first line), parse the form and show the outcome.

Reveal is a POST and never cached: its answer is the only one that holds a value. With htmx it
is the page's live part (which, fetched by GET, never holds one); without JavaScript, the whole
page. Either way a later GET of the page shows no value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from console.errors import AccessDeniedError, ServiceError
from console.htmx import finish, render_page_or_partial
from console.http import AuthedRequest
from console.reauth import require_recent_password
from console.validation import human_duration
from secrets_app.forms import (
    RevealForm,
    RotateForm,
    SecretDeleteForm,
    SecretEditForm,
    VersionMetadataForm,
)
from secrets_app.models import Secret, SecretType, VersionAlias
from secrets_app.permissions import get_secret_for_action, principal_of
from secrets_app.services.deletion import (
    UndeletedCredentialsError,
    configurations_using,
    delete_blockers,
    locks_held,
    secret_delete,
)
from secrets_app.services.editing import secret_metadata_update, secret_version_metadata_update
from secrets_app.services.lock_rules import lock_impact, rotation_lock_blocker
from secrets_app.services.reading import Revealed, secret_reveal
from secrets_app.services.rotation import Rotation, rotation_blocker, secret_rotate
from secrets_app.services.versions import Payload
from secrets_app.views.secrets import detail_context


def _detail_url(secret: Secret) -> str:
    return reverse("secrets:detail", args=[secret.pk])


# ---------------------------------------------------------------------------------------------
# Reveal


@dataclass(frozen=True)
class ShownField:
    """One part of a revealed value, shown as selectable text with its own copy button."""

    key: str  # the element id's suffix
    label: str
    value: str = field(repr=False)
    block: bool = False  # several lines: a <pre>


@dataclass(frozen=True)
class Shown:
    version_serial: int
    alias: str
    fields: list[ShownField] = field(repr=False)
    fresh_key: bool = False  # an IAM credentials read with reuse off issued this key just now


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _shown_fields(secret: Secret, payload: Payload) -> list[ShownField]:
    """How each type's value reads best: the arbitrary text, the IAM key and its ids, the service
    credentials as the JSON object they are, and each custom credentials field on its own."""
    if not isinstance(payload, dict):
        return [ShownField("value", "Value", payload, block=True)]
    if secret.secret_type == SecretType.IAM_CREDENTIALS:
        labels = {"api_key": "API key", "api_key_id": "API key ID", "service_id": "Service ID"}
        return [
            ShownField(key.replace("_", "-"), label, _text(payload[key]))
            for key, label in labels.items()
            if key in payload
        ]
    if secret.secret_type == SecretType.SERVICE_CREDENTIALS:
        text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False)
        return [ShownField("credentials", "Credentials (JSON)", text, block=True)]
    return [
        ShownField(f"field-{n}", key, _text(value), block="\n" in _text(value))
        for n, (key, value) in enumerate(sorted(payload.items()), start=1)
    ]


def _shown(secret: Secret, revealed: Revealed, *, asked: str) -> Shown:
    return Shown(
        version_serial=revealed.version.serial,
        alias=revealed.version.alias or "",
        fields=_shown_fields(secret, revealed.payload),
        fresh_key=secret.secret_type == SecretType.IAM_CREDENTIALS
        and not secret.reuse_api_key
        and asked == VersionAlias.CURRENT,
    )


@never_cache
@require_POST
def secret_reveal_view(request: AuthedRequest, secret_id: str) -> HttpResponse:
    """Reveal the current or previous version's value (audited by the service)."""
    secret = get_secret_for_action(request.user, secret_id, "reveal")
    if ask := require_recent_password(
        request, why="reveal a secret's value", retry_url=_detail_url(secret)
    ):
        return ask
    form = RevealForm(request.POST)
    shown: Shown | None = None
    error = ""
    if form.is_valid():
        asked = form.cleaned_data["version"]
        try:
            revealed = secret_reveal(
                principal=principal_of(request.user),
                secret_id=secret.pk,
                version=asked,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        except AccessDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        except ServiceError as exc:
            error = exc.message
        else:
            shown = _shown(secret, revealed, asked=asked)
    else:
        error = " ".join(str(m) for ms in form.errors.values() for m in ms)
    # Read again after the reveal: with reuse off, an IAM credentials read adds a version.
    context = detail_context(request, secret_id)
    context.update(reveal_form=form, revealed=shown, reveal_error=error)
    return render_page_or_partial(
        request, "secrets/detail.html", "secret-live", context, status=200 if shown else 422
    )


# ---------------------------------------------------------------------------------------------
# Rotate


def _rotated(rotation: Rotation) -> str:
    name = rotation.secret.name
    if rotation.task is not None:
        return (
            f"Rotation of {name} started: task {rotation.task.pk} asks the credentials provider "
            "for new credentials. The new version appears here when the job reports; until "
            "then the current version stays in use."
        )
    assert rotation.version is not None
    return f"Secret {name} rotated: version {rotation.version.serial} is now current."


@never_cache
@require_http_methods(["GET", "POST"])
def secret_rotate_view(request: AuthedRequest, secret_id: str) -> HttpResponse:
    secret = get_secret_for_action(request.user, secret_id, "rotate")
    posted = request.method == "POST"
    form = RotateForm(
        request.POST if posted else None, request.FILES if posted else None, secret=secret
    )
    blocker = rotation_blocker(secret) or rotation_lock_blocker(secret)
    if posted and form.is_valid() and blocker:
        form.add_error(None, blocker)
    elif posted and form.is_valid():
        try:
            rotation = secret_rotate(
                principal=principal_of(request.user),
                secret_id=secret.pk,
                payload=form.cleaned_data["payload"],
                version_custom_metadata=form.cleaned_data["version_custom_metadata"],
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            for key, messages_ in errors.items():
                form.add_error(key if key in form.fields else None, messages_)
        except AccessDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _rotated(rotation))
            return finish(request, _detail_url(secret))
    context = {
        "secret": secret,
        "form": form,
        "blocker": blocker,
        "locks": lock_impact(secret),
        "lease": human_duration(secret.ttl_seconds) if secret.ttl_seconds else "",
        "focus": "invalid" if form.errors else "",
        "error_summary": True,
    }
    return render_page_or_partial(
        request, "secrets/rotate.html", "rotate-form", context, status=422 if posted else 200
    )


# ---------------------------------------------------------------------------------------------
# Edit, and a version's metadata


def _saved(secret: Secret, changed: dict[str, Any]) -> str:
    later = []
    if "parameters" in changed:
        later.append("the new parameters apply from the next version")
    if "ttl" in changed:
        later.append("the new lease duration applies at the next rotation")
    note = f" ({' and '.join(later)})" if later else ""
    return f"Secret {secret.name} saved{note}."


@require_http_methods(["GET", "POST"])
def secret_edit(request: AuthedRequest, secret_id: str) -> HttpResponse:
    secret = get_secret_for_action(request.user, secret_id, "edit")
    posted = request.method == "POST"
    form = SecretEditForm(request.POST if posted else None, secret=secret, user=request.user)
    status = 200
    if posted:
        if form.is_valid():
            changes = form.changes()
            if not changes:
                messages.info(request, f"Nothing changed: secret {secret.name} is as it was.")
                return finish(request, _detail_url(secret))
            try:
                saved = secret_metadata_update(
                    principal=principal_of(request.user), secret_id=secret.pk, changes=changes
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            except AccessDeniedError as exc:
                raise PermissionDenied(exc.message) from None
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _saved(saved, changes))
                return finish(request, _detail_url(saved))
        status = 422
    context = {
        "secret": secret,
        "form": form,
        "focus": "invalid" if form.errors else "",
        "error_summary": True,
        "rotates": "ttl" in form.fields,
    }
    return render_page_or_partial(request, "secrets/edit.html", "edit-form", context, status=status)


@require_POST
def version_metadata(request: AuthedRequest, secret_id: str, version_id: str) -> HttpResponse:
    """The small form in the Versions table: replace one version's custom metadata."""
    secret = get_secret_for_action(request.user, secret_id, "edit")
    version = secret.versions.filter(pk=version_id).first()
    if version is None:
        raise Http404("That version no longer exists: only the newest 50 are kept.")
    form = VersionMetadataForm(request.POST, auto_id=f"id_v{version.serial}_%s")
    if form.is_valid():
        try:
            secret_version_metadata_update(
                principal=principal_of(request.user),
                secret_id=secret.pk,
                version=str(version.pk),
                version_custom_metadata=form.cleaned_data["version_custom_metadata"],
            )
        except ValidationError as exc:
            form.add_error("version_custom_metadata", exc.messages)
        except AccessDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        except ServiceError as exc:
            form.add_error("version_custom_metadata", exc.message)
        else:
            messages.success(request, f"Metadata of version {version.serial} saved.")
            return finish(request, _detail_url(secret))
    context = detail_context(request, secret_id)
    for shown in context["versions"]:
        if shown.pk == version.pk:  # shown again open, with what was typed and why it failed
            shown.metadata_edit = form.data.get("version_custom_metadata", "")
            shown.metadata_errors = form.errors.get("version_custom_metadata", [])
    return render_page_or_partial(
        request, "secrets/detail.html", "secret-live", context, status=422
    )


# ---------------------------------------------------------------------------------------------
# Delete


@require_http_methods(["GET", "POST"])
def secret_delete_view(request: AuthedRequest, secret_id: str) -> HttpResponse:
    """Confirm by typing the name. A custom credentials secret whose credentials may still exist
    is refused with the reasons, and Force delete is offered with a second confirmation."""
    secret = get_secret_for_action(request.user, secret_id, "delete")
    if ask := require_recent_password(request, why="delete a secret"):
        return ask
    posted = request.method == "POST"
    form = SecretDeleteForm(request.POST if posted else None, secret=secret)
    refusal, offer_force, status = "", False, 200
    if posted:
        if form.is_valid():
            force = bool(form.cleaned_data["force"])
            try:
                secret_delete(
                    principal=principal_of(request.user), secret_id=secret.pk, force=force
                )
            except UndeletedCredentialsError as exc:
                refusal, offer_force = exc.message, True
            except AccessDeniedError as exc:
                raise PermissionDenied(exc.message) from None
            except ServiceError as exc:  # SecretInUseError among them: force does not help
                refusal = exc.message
            else:
                background = " Its credentials are deleted in the background." if force else ""
                messages.success(request, f"Secret {secret.name} deleted.{background}")
                return finish(request, reverse("secrets:list"))
        else:
            offer_force = bool(form.cleaned_data.get("force"))
        status = 422
    context = {
        "secret": secret,
        "form": form,
        "in_use": configurations_using(secret),
        "locks": locks_held(secret),
        "refusal": refusal,
        "offer_force": offer_force,
        "blockers": delete_blockers(secret) if offer_force else [],
        "focus": "invalid" if form.errors else "",
        "error_summary": True,
    }
    return render_page_or_partial(
        request, "secrets/delete.html", "secret-delete", context, status=status
    )
