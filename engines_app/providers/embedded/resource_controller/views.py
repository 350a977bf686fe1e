"""Console pages of the embedded resource controller: service instances and their resource keys.

The pages show names, roles, CRNs and dates. Credentials never reach a template: the views do not
open sealed values, and the queries leave the sealed columns out. They need a role (Reader or
more) on a secret group or on the instance; a key is shown to a Reader on the whole instance, or
to who may read the service credentials secret that holds it.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from console.http import AuthedRequest
from engines_app.providers.access import require_service_instance_read
from engines_app.providers.embedded.resource_controller.models import ResourceKey, ServiceInstance
from engines_app.providers.resource_controller import visible_key_crns

_SEALED_COLUMNS = ("sealed_key_id", "sealed_wrapped_key", "sealed_ciphertext")


def get_instance_for_user(user: AbstractBaseUser | AnonymousUser, guid: str) -> ServiceInstance:
    """An instance, for someone with a role somewhere; 403 before 404, so strangers learn
    nothing about which instances exist."""
    require_service_instance_read(user)
    try:
        pk = uuid.UUID(guid)
    except ValueError:
        raise Http404("No such service instance.") from None
    return get_object_or_404(ServiceInstance, pk=pk)


@require_GET
def service_instance_list(request: AuthedRequest) -> HttpResponse:
    require_service_instance_read(request.user)
    instances = ServiceInstance.objects.annotate(
        live_keys=Count("resource_keys", filter=Q(resource_keys__deleted_at__isnull=True))
    ).order_by("name")
    return render(request, "cloud/service_instances.html", {"instances": instances})


@never_cache
@require_GET
def service_instance_detail(request: AuthedRequest, guid: str) -> HttpResponse:
    """Not cached: the page lists the keys and service IDs behind service credentials."""
    instance = get_instance_for_user(request.user, guid)
    keys = list(
        ResourceKey.objects.filter(instance=instance)
        .defer(*_SEALED_COLUMNS)
        .order_by("deleted_at", "-created_at", "guid")
    )
    visible = visible_key_crns(request.user, [k.crn for k in keys])
    shown = keys if visible is None else [k for k in keys if k.crn in visible]
    for key in shown:
        # The instance is already loaded; spare one query per key for key.role_name.
        key.instance = instance
    return render(
        request,
        "cloud/service_instance_detail.html",
        {
            "instance": instance,
            "keys": shown,
            "live_count": sum(1 for k in shown if not k.is_deleted),
            "hidden_key_count": len(keys) - len(shown),
        },
    )
