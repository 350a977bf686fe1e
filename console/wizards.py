"""The wizard engine shared by every wizard: steps declared as data, drafts kept on the server.

A wizard is a list of `Step`s and a `finish` function. Each step has its own URL
(/wizards/<kind>/<draft>/<step>/), a form, and a template included in the common frame. A step
can apply conditionally (an authorization prompt appears only while the authorization is
missing). The draft stores the raw values of each step, never a secret value: a form declares
`secret_fields`, which are neither stored nor re-rendered, and which the final step collects.
At finish every applicable step is validated again from the draft, so a draft that went stale in
another tab (a configuration deleted, a group removed) is sent back to the step that fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from console.models import WizardDraft

STALE_KEY = "_stale"


class WizardForm(forms.Form):
    """Base for step forms. Subclasses get the draft and the user; they validate only."""

    # Fields whose values must never reach the draft (secret values, file uploads).
    secret_fields: frozenset[str] = frozenset()
    file_fields: frozenset[str] = frozenset()

    def __init__(self, *args: Any, draft: Draft, user: User, **kwargs: Any) -> None:
        self.draft = draft
        self.user = user
        super().__init__(*args, **kwargs)

    def draft_values(self) -> dict[str, list[str]]:
        """What to keep of this step: the raw submitted values, minus secrets and files."""
        keep: dict[str, list[str]] = {}
        for name in self.fields:
            if name in self.secret_fields or name in self.file_fields:
                continue
            key = self.add_prefix(name)
            values = (
                self.data.getlist(key) if hasattr(self.data, "getlist") else [self.data.get(key)]
            )
            values = [v for v in values if v is not None]
            if values:
                keep[key] = [str(v) for v in values]
        return keep


StepAction = Callable[["WizardForm"], dict[str, list[str]]]
StepPerform = Callable[["WizardForm"], dict[str, list[str]] | None]


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    form_class: type[WizardForm]
    template: str
    applies: Callable[[Draft], bool] = field(default=lambda draft: True)
    # In-context helpers that edit this step without leaving it (Create group, Show schema,
    # Update): a button posting `wizard_action=<name>`, whose handler returns the step's new raw
    # values, or raises ValidationError/ServiceError for the form. The step stays on screen.
    actions: Mapping[str, StepAction] = field(default_factory=dict)
    # The main button's label; "Next" (or the wizard's submit label on the last step) when empty.
    submit_label: str = ""
    # What the main button does, for a step whose button acts (Authorize): it runs once the
    # step's form is valid, and returns the raw values to keep for the step (None: the form's).
    # It may raise ValidationError or ServiceError. Forms stay pure: the doing lives here.
    perform: StepPerform | None = None
    # The field that gets the keyboard focus after an action succeeds, usually the one it filled
    # in (Create group → the group select). Without an entry the step heading gets it.
    action_focus: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Wizard:
    kind: str
    title: str
    steps: tuple[Step, ...]
    # finish(request, draft, cleaned_by_step, final_form) -> URL of what was created.
    finish: Callable[..., str]
    cancel_url: str
    submit_label: str = "Add"
    # Who may use it at all: the app's access helper, called with the user before the start and
    # every step (it raises PermissionDenied), so a step's page is refused as its finish would be.
    require: Callable[[User], None] | None = None

    def check_access(self, user: User) -> None:
        if self.require is not None:
            self.require(user)

    def applicable(self, draft: Draft) -> list[Step]:
        return [s for s in self.steps if s.applies(draft)]

    def get(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def neighbours(self, step: Step, draft: Draft) -> tuple[Step | None, Step | None]:
        steps = self.applicable(draft)
        if step not in steps:
            return None, None
        i = steps.index(step)
        return (steps[i - 1] if i > 0 else None, steps[i + 1] if i + 1 < len(steps) else None)


class Draft:
    """A WizardDraft row with step-level helpers."""

    def __init__(self, row: WizardDraft) -> None:
        self.row = row

    @property
    def id(self) -> Any:
        return self.row.pk

    def raw(self, step: str) -> dict[str, list[str]]:
        value = self.row.data.get(step)
        return dict(value) if isinstance(value, dict) else {}

    def has(self, step: str) -> bool:
        return step in self.row.data

    def value(self, step: str, key: str, default: str = "") -> str:
        values = self.raw(step).get(key) or []
        return values[0] if values else default

    def values(self, step: str, key: str) -> list[str]:
        return list(self.raw(step).get(key) or [])

    def put(self, step: str, raw: dict[str, list[str]]) -> None:
        self.row.data = {**self.row.data, step: raw}

    def drop(self, step: str) -> None:
        self.row.data = {k: v for k, v in self.row.data.items() if k != step}

    def bound_data(self, step: str) -> MultiValueDict[str, str]:
        return MultiValueDict(self.raw(step))

    def mark_stale(self, step: str) -> None:
        self.row.data = {**self.row.data, STALE_KEY: step}

    def take_stale(self, step: str) -> bool:
        if self.row.data.get(STALE_KEY) != step:
            return False
        self.row.data = {k: v for k, v in self.row.data.items() if k != STALE_KEY}
        return True

    def save(self) -> None:
        self.row.save(update_fields=["data", "updated_at"])


def build_form(
    step: Step, draft: Draft, user: User, *, data: Any = None, files: Any = None
) -> WizardForm:
    if data is None:
        # Unbound, showing what was entered before (Back keeps it).
        initial = {k: (v if len(v) > 1 else v[0]) for k, v in draft.raw(step.name).items()}
        return step.form_class(draft=draft, user=user, initial=initial)
    return step.form_class(data, files, draft=draft, user=user)


def first_incomplete(wizard: Wizard, draft: Draft, before: Step) -> Step | None:
    """The first applicable step before `before` that has not been completed."""
    for step in wizard.applicable(draft):
        if step == before:
            return None
        if not draft.has(step.name):
            return step
    return None


def revalidate(
    wizard: Wizard, draft: Draft, user: User
) -> tuple[dict[str, dict[str, Any]], Step | None]:
    """Validate every applicable step (except the last) from the draft; return the first failure."""
    cleaned: dict[str, dict[str, Any]] = {}
    for step in wizard.applicable(draft)[:-1]:
        form = build_form(step, draft, user, data=draft.bound_data(step.name))
        if not form.is_valid():
            return cleaned, step
        cleaned[step.name] = form.cleaned_data
    return cleaned, None


DRAFT_LIFETIME_HOURS = 24


# ---------------------------------------------------------------------------------------------
# A draft's life: start, load, claim (exactly once), finish. The views only call these.


def draft_start(*, owner: User, wizard: Wizard) -> Draft:
    return Draft(WizardDraft.objects.create(owner=owner, kind=wizard.kind))


def draft_load(*, owner: User, wizard: Wizard, draft_id: UUID) -> Draft | None:
    """The owner's draft of this wizard, unless it expired (untouched for a day)."""
    fresh_since = timezone.now() - timedelta(hours=DRAFT_LIFETIME_HOURS)
    row = WizardDraft.objects.filter(
        pk=draft_id, kind=wizard.kind, owner=owner, updated_at__gte=fresh_since
    ).first()
    return Draft(row) if row is not None else None


def draft_finish(*, draft: Draft, create: Callable[[], str]) -> str | None:
    """Claim the draft and run `create` (the wizard's finish) in one transaction.

    Of two submits of the same draft, exactly one creates anything: the other gets None and the
    draft's result URL is then on `draft.row`. On success the draft forgets every entered value
    and keeps only the URL of what was created. An exception from `create` rolls the claim back,
    so the user can correct the step and submit again.
    """
    with transaction.atomic():
        claimed = WizardDraft.objects.filter(pk=draft.id, finished_at__isnull=True).update(
            finished_at=timezone.now()
        )
        if not claimed:
            draft.row.refresh_from_db()
            return None
        url = create()
        WizardDraft.objects.filter(pk=draft.id).update(result_url=url, data={})
    return url


def drafts_cleanup() -> int:
    """Delete drafts untouched for a day (finished ones included: they hold only a result URL)."""
    cutoff = timezone.now() - timedelta(hours=DRAFT_LIFETIME_HOURS)
    deleted, _ = WizardDraft.objects.filter(updated_at__lt=cutoff).delete()
    return deleted


# ---------------------------------------------------------------------------------------------
# The registry: each app registers its wizards from AppConfig.ready(), so the kernel imports none.

_REGISTRY: dict[str, Wizard] = {}


def register_wizards(*wizards: Wizard) -> None:
    for wizard in wizards:
        existing = _REGISTRY.get(wizard.kind)
        if existing is not None and existing is not wizard:
            raise ValueError(f"two wizards registered for kind {wizard.kind!r}")
        _REGISTRY[wizard.kind] = wizard


def wizard_for(kind: str) -> Wizard | None:
    return _REGISTRY.get(kind)


def registered_wizards() -> dict[str, Wizard]:
    return dict(_REGISTRY)


# ---------------------------------------------------------------------------------------------
# Helpers for step forms


def field_error(exc: ValidationError, field: str) -> ValidationError:
    """The messages of a field-keyed ValidationError, for use in clean_<field>."""
    return ValidationError(
        exc.message_dict.get(field, exc.messages) if hasattr(exc, "error_dict") else exc.messages
    )


def cleaned_steps(draft: Draft, user: Any) -> dict[str, dict[str, Any]]:
    """Every completed step's cleaned data, for a Review step's summary."""
    wizard = wizard_for(draft.row.kind)
    assert wizard is not None, draft.row.kind
    cleaned, _ = revalidate(wizard, draft, user)
    return cleaned
