"""The resource controller as the secrets code sees it: service instances and resource keys.

Service credentials secrets (reference/sm-api.md §6.2) create one resource key per version on the
service instance named in `source_service.instance.crn`, and delete it with the version. This
module is the seam: the secrets code calls a `ResourceControllerProvider` obtained from
`get_resource_controller()`, and only the provider knows whether the keys live in the console's
own database (the embedded implementation) or in a real IBM Cloud account.

Results are small frozen dataclasses. `ResourceKeyResult.credentials` holds secret material, so it
is left out of the dataclass repr and must never be logged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from console.identity import Actor
from engines_app.providers.registry import load_provider

# A service ID's CRN, as a resource key names the identity its credentials belong to.
SERVICEID_CRN_RE = re.compile(
    r"^crn:v1:bluemix:public:iam-identity::a/[a-z0-9]{32}::serviceid:"
    r"ServiceId-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


@dataclass(frozen=True)
class RoleInfo:
    """An IAM role a service offers for its credentials, e.g. Writer or Object Reader."""

    name: str
    crn: str


@dataclass(frozen=True)
class ServiceInfo:
    """A service that supports service credentials. `key` is IBM's service name in CRNs."""

    key: str
    label: str
    roles: tuple[RoleInfo, ...]
    hmac: bool = False


@dataclass(frozen=True)
class ServiceInstanceInfo:
    guid: str
    name: str
    service: str
    region: str
    crn: str


@dataclass(frozen=True)
class ResourceKeyResult:
    """A newly created resource key and its credentials (the secret payload of the version)."""

    crn: str
    name: str
    credentials: dict[str, Any] = field(repr=False)
    role_crn: str | None = None
    iam_apikey_id: str = ""
    serviceid_crn: str = ""


class ResourceControllerProvider(Protocol):
    """What a resource controller must offer. Every method is keyword-only.

    Lookups of an unknown service, instance or key raise `console.errors.NotFoundError`;
    invalid input raises django's `ValidationError` keyed by the argument's name.
    """

    def list_services(self) -> list[ServiceInfo]:
        """The supported services, in display order."""
        ...

    def service_roles(self, *, service_key: str) -> list[str]:
        """Names of the IAM roles a service offers for credentials. "None" is not one of them:
        callers offer it themselves and pass `role=None`."""
        ...

    def list_instances(self, *, service_key: str | None = None) -> list[ServiceInstanceInfo]:
        """Service instances of the supported services, optionally of one service only."""
        ...

    def get_instance(self, *, crn: str) -> ServiceInstanceInfo: ...

    def create_resource_key(
        self,
        *,
        instance_crn: str,
        name: str,
        role: str | None,
        hmac: bool,
        serviceid_crn: str | None,
        actor: Actor,
    ) -> ResourceKeyResult:
        """Create a resource key on the instance.

        `role` is a role name or role CRN the service offers, or None for a service ID whose
        policies are configured beforehand. `serviceid_crn` names an existing service ID; None
        auto-generates one. `hmac` asks for HMAC keys (Cloud Object Storage only).
        """
        ...

    def seed_demo(self, *, actor: Actor) -> int:
        """Demo service instances of every supported service; returns how many were new."""
        ...

    def delete_resource_key(self, *, crn: str, actor: Actor) -> None:
        """Delete the key so that its credentials stop working. Deleting twice is not an error."""
        ...


# Which resource keys a console user may see: the secrets app knows which secret holds which
# key, so it registers the rule (AppConfig.ready). Without one, no key is shown (fail closed).
KeyVisibility = Callable[[Any, list[str]], "set[str] | None"]
_key_visibility: list[KeyVisibility] = []


def register_key_visibility(rule: KeyVisibility) -> None:
    _key_visibility[:] = [rule]


def visible_key_crns(user: Any, crns: list[str]) -> set[str] | None:
    """The CRNs among `crns` that the user may see; None means all of them."""
    if not _key_visibility:
        return set()
    return _key_visibility[0](user, crns)


def get_resource_controller() -> ResourceControllerProvider:
    """The implementation named in settings.SM_PROVIDERS (the embedded cloud by default)."""
    return cast(ResourceControllerProvider, load_provider("resource_controller"))
