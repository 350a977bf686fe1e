"""A Code Engine that records job runs instead of starting them.

The tests play the job themselves: they read the environment a run would get and report
through `secret_task_report`, as the job's PUT .../tasks/{id} does. Named in settings.SM_PROVIDERS
by the `code_engine` fixture of tests/lifecycle/conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engines_app.providers.embedded.code_engine.provider import EmbeddedCodeEngine


@dataclass
class Recorder:
    started: dict[str, dict[str, str]] = field(default_factory=dict)  # run name → env
    stopped: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.started.clear()
        self.stopped.clear()
        self.reported.clear()


RECORDER = Recorder()


class RecordingCodeEngine(EmbeddedCodeEngine):
    def start_job_run(
        self,
        *,
        project_id: str,
        job_name: str,
        run_name: str,
        env: dict[str, str],
        timeout_seconds: int,
    ) -> None:
        RECORDER.started[run_name] = dict(env)

    def stop_job_run(self, *, project_id: str, run_name: str) -> bool:
        RECORDER.stopped.append(run_name)
        return True

    def record_run_report(self, *, project_id: str, run_name: str) -> None:
        RECORDER.reported.append(run_name)
