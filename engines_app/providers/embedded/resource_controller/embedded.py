"""The embedded resource controller: `ResourceControllerProvider` backed by this app's database."""

from __future__ import annotations

from console.errors import NotFoundError
from console.identity import Actor
from engines_app.providers.embedded.resource_controller import catalog, services
from engines_app.providers.embedded.resource_controller.models import ServiceInstance
from engines_app.providers.resource_controller import (
    ResourceKeyResult,
    ServiceInfo,
    ServiceInstanceInfo,
)


def _service_info(spec: catalog.ServiceSpec) -> ServiceInfo:
    return ServiceInfo(key=spec.key, label=spec.label, roles=spec.roles, hmac=spec.hmac)


def _instance_info(instance: ServiceInstance) -> ServiceInstanceInfo:
    return ServiceInstanceInfo(
        guid=str(instance.guid),
        name=instance.name,
        service=instance.service,
        region=instance.region,
        crn=instance.crn,
    )


class EmbeddedResourceController:
    def list_services(self) -> list[ServiceInfo]:
        return [_service_info(spec) for spec in catalog.SERVICES]

    def service_roles(self, *, service_key: str) -> list[str]:
        spec = catalog.get_service(service_key)
        if spec is None:
            raise NotFoundError(
                f"Service {service_key!r} does not support service credentials.",
                field="service_key",
            )
        return [role.name for role in spec.roles]

    def list_instances(self, *, service_key: str | None = None) -> list[ServiceInstanceInfo]:
        return [_instance_info(i) for i in services.instance_list(service=service_key)]

    def get_instance(self, *, crn: str) -> ServiceInstanceInfo:
        return _instance_info(services.instance_get(crn=crn))

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
        key, credentials = services.resource_key_create(
            actor=actor,
            instance_crn=instance_crn,
            name=name,
            role=role,
            hmac=hmac,
            serviceid_crn=serviceid_crn,
        )
        return ResourceKeyResult(
            crn=key.crn,
            name=key.name,
            credentials=credentials,
            role_crn=key.role_crn or None,
            iam_apikey_id=key.iam_apikey_id,
            serviceid_crn=key.serviceid_crn,
        )

    def seed_demo(self, *, actor: Actor) -> int:
        return services.seed_service_instances(actor=actor)

    def delete_resource_key(self, *, crn: str, actor: Actor) -> None:
        services.resource_key_delete(actor=actor, crn=crn)
