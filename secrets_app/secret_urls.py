from __future__ import annotations

from django.urls import path

from secrets_app.views import groups, history, lifecycle, locks, secrets, tasks

app_name = "secrets"

urlpatterns = [
    path("secrets/", secrets.secret_list, name="list"),
    path("secrets/new/", secrets.secret_add, name="add"),
    path("secrets/<uuid:secret_id>/", secrets.secret_detail, name="detail"),
    path("secrets/<uuid:secret_id>/status/", secrets.secret_status, name="status"),
    path("secrets/<uuid:secret_id>/reveal/", lifecycle.secret_reveal_view, name="reveal"),
    path("secrets/<uuid:secret_id>/rotate/", lifecycle.secret_rotate_view, name="rotate"),
    path("secrets/<uuid:secret_id>/edit/", lifecycle.secret_edit, name="edit"),
    path("secrets/<uuid:secret_id>/delete/", lifecycle.secret_delete_view, name="delete"),
    path(
        "secrets/<uuid:secret_id>/versions/<uuid:version_id>/metadata/",
        lifecycle.version_metadata,
        name="version-metadata",
    ),
    path("secrets/<uuid:secret_id>/versions/", history.versions_tab, name="versions"),
    path("secrets/<uuid:secret_id>/versions/diff/", history.versions_diff, name="versions-diff"),
    path(
        "secrets/<uuid:secret_id>/versions/<uuid:version_id>/metadata/in-place/",
        history.version_metadata_in_place,
        name="version-metadata-in-place",
    ),
    path(
        "secrets/<uuid:secret_id>/versions/<uuid:version_id>/restore/",
        history.version_restore,
        name="version-restore",
    ),
    path(
        "secrets/<uuid:secret_id>/versions/<uuid:version_id>/locks/add/",
        locks.lock_add,
        name="lock-add",
    ),
    path(
        "secrets/<uuid:secret_id>/versions/<uuid:version_id>/locks/<str:name>/remove/",
        locks.lock_remove,
        name="lock-remove",
    ),
    path("secrets/<uuid:secret_id>/tasks/", history.tasks_tab, name="secret-tasks"),
    path("secrets/<uuid:secret_id>/timeline/", history.timeline_tab, name="timeline"),
    path("tasks/", tasks.task_inbox, name="tasks"),
    path("tasks/bulk-retry/", tasks.bulk_retry, name="task-bulk-retry"),
    path("tasks/<str:task_id>/row/", tasks.task_row, name="task-row"),
    path("tasks/<str:task_id>/retry/", tasks.task_retry_view, name="task-retry"),
    path("tasks/<str:task_id>/cancel/", tasks.task_cancel_view, name="task-cancel"),
    path("tasks/<str:task_id>/<str:action>/", tasks.task_note_action, name="task-note-action"),
    path("groups/", groups.group_list, name="groups"),
    path("groups/new/", groups.group_create, name="group-create"),
    path("groups/<str:group_id>/edit/", groups.group_edit, name="group-edit"),
    path("groups/<str:group_id>/delete/", groups.group_delete, name="group-delete"),
]
