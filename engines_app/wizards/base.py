"""The base of every Add configuration step: each needs the Manager role on the instance."""

from __future__ import annotations

from typing import Any

from console.errors import NotFoundError
from console.wizards import Draft, WizardForm
from engines_app.permissions import require_engines_manager
from engines_app.providers.code_engine import JobInfo, get_code_engine

# Where the Code Engine job step says the project lives.
THIS_ACCOUNT, OTHER_ACCOUNT = "this", "other"


class ManagerStepForm(WizardForm):
    """Every step of this wizard needs the Manager role: a configuration is instance-wide."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        require_engines_manager(self.user)

    def raw(self, key: str) -> str:
        """The value of a field as posted (bound form) or as kept in the draft (unbound)."""
        if self.is_bound:
            return str(self.data.get(self.add_prefix(key)) or "").strip()
        value = self.initial.get(key, self.fields[key].initial if key in self.fields else "")
        if isinstance(value, list):
            value = value[0] if value else ""
        return str(value or "").strip()


def picked_job(draft: Draft) -> tuple[str, str]:
    """(project_id, job_name) chosen on the Code Engine job step, as entered."""
    if draft.value("job", "location", THIS_ACCOUNT) == OTHER_ACCOUNT:
        return (
            draft.value("job", "other_project_id").strip(),
            draft.value("job", "other_job_name").strip(),
        )
    project_id, _, job_name = draft.value("job", "job").partition("/")
    return project_id, job_name


def job_info(project_id: str, job_name: str) -> JobInfo | None:
    if not project_id or not job_name:
        return None
    try:
        return get_code_engine().get_job(project_id=project_id, job_name=job_name)
    except NotFoundError:
        return None


def authorization_granted_here(draft: Draft) -> bool:
    project_id, _ = picked_job(draft)
    return bool(
        project_id
        and draft.value("authorize", "project_id") == project_id
        and draft.value("authorize", "authorization_id")
    )
