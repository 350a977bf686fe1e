"""Events of secrets_app that other parts react to, without the sender knowing them.

`secret_task_finished(sender=SecretTask, task=..., actor=...)` is sent inside the transaction
that moved a secret task to a terminal status (credentials_created, credentials_deleted or
failed), after its audit event. Receivers run in that transaction: what they write commits or
rolls back with the task's new status. The "Test configuration" round trip
(`secrets_app.services.config_tests`) is one; it is connected in `SecretsConfig.ready()`.
"""

from __future__ import annotations

from django.dispatch import Signal

secret_task_finished = Signal()
