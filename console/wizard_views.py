"""The one view every wizard runs through (see console/wizards.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from console.errors import ServiceError
from console.htmx import finish
from console.http import AuthedRequest
from console.wizards import (
    Draft,
    Step,
    Wizard,
    WizardForm,
    build_form,
    draft_finish,
    draft_load,
    draft_start,
    first_incomplete,
    revalidate,
    wizard_for,
)

# What gets the keyboard focus when a step is shown (see render_step).
HEADING, INVALID = "heading", "invalid"


def get_wizard(kind: str) -> Wizard:
    wizard = wizard_for(kind)
    if wizard is None:
        raise Http404("No such wizard.")
    return wizard


def step_url(wizard: Wizard, draft: Draft, step: Step) -> str:
    return reverse("wizard-step", args=[wizard.kind, draft.id, step.name])


def start(request: AuthedRequest, wizard: Wizard) -> HttpResponse:
    """Start a new draft of `wizard` and go to its first step."""
    wizard.check_access(request.user)
    draft = draft_start(owner=request.user, wizard=wizard)
    return finish(request, step_url(wizard, draft, wizard.applicable(draft)[0]))


@require_POST
def wizard_start(request: AuthedRequest, kind: str) -> HttpResponse:
    return start(request, get_wizard(kind))


def _progress(wizard: Wizard, draft: Draft, current: Step) -> list[dict[str, Any]]:
    items, reached = [], True
    for step in wizard.applicable(draft):
        is_current = step == current
        done = draft.has(step.name) and not is_current and reached
        items.append(
            {
                "title": step.title,
                "current": is_current,
                "done": done,
                "url": step_url(wizard, draft, step) if done else None,
            }
        )
        if is_current:
            reached = False
    return items


def render_step(
    request: AuthedRequest,
    wizard: Wizard,
    draft: Draft,
    step: Step,
    form: WizardForm,
    *,
    status: int = 200,
    focus: str = HEADING,
) -> HttpResponse:
    """Render a step. `focus` says what gets the keyboard focus: the step heading (a new step),
    a field of the form (after an in-context action), or the errors (INVALID; any bound form
    with errors). It becomes `autofocus` in the page, which htmx honours after a swap too."""
    previous, following = wizard.neighbours(step, draft)
    if form.is_bound and form.errors:
        focus = INVALID
    elif focus in form.fields:
        form.fields[focus].widget.attrs["autofocus"] = True
    applicable = wizard.applicable(draft)
    context = {
        "wizard": wizard,
        "draft": draft,
        "step": step,
        "form": form,
        "progress": _progress(wizard, draft, step),
        "back_url": step_url(wizard, draft, previous) if previous else None,
        "is_last": following is None,
        "submit_label": step.submit_label or (wizard.submit_label if following is None else "Next"),
        "step_url": step_url(wizard, draft, step),
        "focus": focus,
        "error_summary": True,  # the frame lists the errors first (_partials/error_summary.html)
        "step_number": applicable.index(step) + 1 if step in applicable else None,
        "step_count": len(applicable),
        **(form.extra_context() if hasattr(form, "extra_context") else {}),
    }
    template = "wizards/frame.html#wizard-frame" if request.htmx else "wizards/frame.html"
    response = TemplateResponse(request, template, context, status=status)
    response["Vary"] = "HX-Request"
    response["Cache-Control"] = "no-store"
    return response.render()


def _load(request: AuthedRequest, kind: str, draft_id: UUID) -> tuple[Wizard, Draft]:
    wizard = get_wizard(kind)
    draft = draft_load(owner=request.user, wizard=wizard, draft_id=draft_id)
    if draft is None:  # another user's draft, too: 404 before any other answer
        raise Http404("This wizard draft does not exist or has expired. Start again.")
    wizard.check_access(request.user)
    return wizard, draft


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def wizard_step(request: AuthedRequest, kind: str, draft_id: UUID, step: str) -> HttpResponse:
    wizard, draft = _load(request, kind, draft_id)
    if draft.row.finished_at:
        return finish(request, draft.row.result_url or wizard.cancel_url)
    current = wizard.get(step)
    if current is None:
        raise Http404("No such step.")
    applicable = wizard.applicable(draft)
    if current not in applicable:
        # e.g. an authorization prompt that is no longer needed: go to the next open step.
        return redirect(step_url(wizard, draft, _next_open_step(wizard, draft)))
    if (missing := first_incomplete(wizard, draft, current)) is not None:
        return redirect(step_url(wizard, draft, missing))
    _, following = wizard.neighbours(current, draft)

    if request.method == "GET":
        if draft.take_stale(current.name):
            draft.save()
            form = build_form(current, draft, request.user, data=draft.bound_data(current.name))
            form.is_valid()  # show what no longer holds
        else:
            form = build_form(current, draft, request.user)
        return render_step(request, wizard, draft, current, form)

    form = build_form(current, draft, request.user, data=request.POST, files=request.FILES)
    action = request.POST.get("wizard_action", "")
    if action:
        handler = current.actions.get(action)
        if handler is None:
            raise Http404("Unknown action.")
        try:
            raw = handler(form)
        except ValidationError as exc:
            _add_errors(form, exc)
            return render_step(request, wizard, draft, current, form, status=422)
        except ServiceError as exc:
            form.add_error(None, exc.message)
            return render_step(request, wizard, draft, current, form, status=422)
        draft.put(current.name, raw)
        draft.save()
        if current not in wizard.applicable(draft):
            # The action resolved what this step was for (e.g. Authorize): move on.
            return _advance(request, wizard, draft, _next_open_step(wizard, draft))
        fresh = build_form(current, draft, request.user)
        return render_step(
            request,
            wizard,
            draft,
            current,
            fresh,
            focus=_action_focus(request, current, action, fresh),
        )
    if not form.is_valid():
        return render_step(request, wizard, draft, current, form, status=422)
    if following is None:
        return _finish(request, wizard, draft, current, form)
    kept = form.draft_values()
    if current.perform is not None:
        try:
            kept = current.perform(form) or kept
        except ValidationError as exc:
            _add_errors(form, exc)
            return render_step(request, wizard, draft, current, form, status=422)
        except ServiceError as exc:
            form.add_error(None, exc.message)
            return render_step(request, wizard, draft, current, form, status=422)
    draft.put(current.name, kept)
    draft.save()
    # What comes next may depend on what was just entered (e.g. an authorization prompt).
    if current not in wizard.applicable(draft):
        return _advance(request, wizard, draft, _next_open_step(wizard, draft))
    _, following = wizard.neighbours(current, draft)
    if following is None:
        return _finish(request, wizard, draft, current, form)
    return _advance(request, wizard, draft, following)


def _action_focus(request: AuthedRequest, step: Step, action: str, form: WizardForm) -> str:
    """Where the focus goes after an action: back on the field whose change posted it (a
    dependent select, with htmx), else the field the action filled in, else the heading."""
    trigger = request.htmx.trigger if request.htmx else None
    if trigger:
        for name in form.fields:
            if form[name].auto_id == trigger:
                return name
    return step.action_focus.get(action, HEADING)


def _next_open_step(wizard: Wizard, draft: Draft) -> Step:
    applicable = wizard.applicable(draft)
    return next((s for s in applicable if not draft.has(s.name)), applicable[-1])


def _advance(request: AuthedRequest, wizard: Wizard, draft: Draft, step: Step) -> HttpResponse:
    url = step_url(wizard, draft, step)
    if not request.htmx:
        return redirect(url)
    response = render_step(request, wizard, draft, step, build_form(step, draft, request.user))
    return push_url(response, url)


def _add_errors(form: WizardForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        if field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, [f"{field.replace('_', ' ')}: {e}" for e in errors])


def _finish(
    request: AuthedRequest, wizard: Wizard, draft: Draft, current: Step, form: WizardForm
) -> HttpResponse:
    cleaned, failing = revalidate(wizard, draft, request.user)
    if failing is not None:
        draft.mark_stale(failing.name)
        draft.save()
        messages.error(
            request,
            f"Something changed since you completed “{failing.title}”: check that step again.",
        )
        return finish(request, step_url(wizard, draft, failing))
    try:
        url = draft_finish(
            draft=draft,
            create=lambda: wizard.finish(request=request, draft=draft, cleaned=cleaned, form=form),
        )
    except ValidationError as exc:
        _add_errors(form, exc)
        return render_step(request, wizard, draft, current, form, status=422)
    except ServiceError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return render_step(request, wizard, draft, current, form, status=422)
    if url is None:  # another submit of this draft finished it first
        return finish(request, draft.row.result_url or wizard.cancel_url)
    return finish(request, url)
