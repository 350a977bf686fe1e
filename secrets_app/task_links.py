"""Links between secret tasks and the Code Engine job runs named after them.

`task_page_urls` is registered with the Code Engine interface (SecretsAppConfig.ready), so the
job run pages link to the task they served without importing this app; `run_page_urls_for` is
the way back, for the secret's task table.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.urls import reverse

from engines_app.providers.access import can_manage_code_engine
from engines_app.providers.code_engine import get_code_engine
from secrets_app.models import SecretTask


def task_page_urls(task_ids: list[str]) -> dict[str, str]:
    """Task id -> its row on its secret's page, for the tasks that exist."""
    found = SecretTask.objects.filter(pk__in=task_ids).values_list("pk", "secret_id")
    return {
        pk: f"{reverse('secrets:detail', args=[secret_id])}#task-{pk}" for pk, secret_id in found
    }


def run_page_urls_for(
    user: AbstractBaseUser | AnonymousUser, tasks: Iterable[SecretTask]
) -> dict[str, str]:
    """Task id -> the page of its job run, for those who may open Code Engine's pages."""
    if not can_manage_code_engine(user):
        return {}
    return get_code_engine().run_page_urls([task.pk for task in tasks])
