"""`{% task_run_urls tasks as run_urls %}` and `{{ run_urls|for_task:task }}`: a secret task's
Code Engine job run page, for those who may open it (see secrets_app.task_links)."""

from __future__ import annotations

from typing import Any

from django import template

from secrets_app.task_links import run_page_urls_for

register = template.Library()


@register.simple_tag(takes_context=True)
def task_run_urls(context: template.Context, tasks: Any) -> dict[str, str]:
    request = context.get("request")
    if request is None:
        return {}
    return run_page_urls_for(request.user, list(tasks))


@register.filter
def for_task(urls: dict[str, str], task: Any) -> str:
    return urls.get(str(getattr(task, "pk", task)), "") if isinstance(urls, dict) else ""
