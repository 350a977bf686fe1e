"""Console pages of the embedded resource controller: service instances and their resource keys.

The pages show names, roles, CRNs and dates. Credentials never reach a template: the views do not
open sealed values, and the queries leave the sealed columns out.
"""

from __future__ import annotations

import uuid

from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from console.http import AuthedRequest
from engines_app.providers.embedded.resource_controller.models import ResourceKey, ServiceInstance

_SEALED_COLUMNS = ("sealed_key_id", "sealed_wrapped_key", "sealed_ciphertext")


@require_GET
def service_instance_list(request: AuthedRequest) -> HttpResponse:
    instances = ServiceInstance.objects.annotate(
        live_keys=Count("resource_keys", filter=Q(resource_keys__deleted_at__isnull=True))
    ).order_by("name")
    return render(request, "cloud/service_instances.html", {"instances": instances})


@require_GET
def service_instance_detail(request: AuthedRequest, guid: str) -> HttpResponse:
    try:
        pk = uuid.UUID(guid)
    except ValueError:
        raise Http404("No such service instance.") from None
    instance = get_object_or_404(ServiceInstance, pk=pk)
    keys = list(
        ResourceKey.objects.filter(instance=instance)
        .defer(*_SEALED_COLUMNS)
        .order_by("deleted_at", "-created_at", "guid")
    )
    for key in keys:
        # The instance is already loaded; spare one query per key for key.role_name.
        key.instance = instance
    return render(
        request,
        "cloud/service_instance_detail.html",
        {
            "instance": instance,
            "keys": keys,
            "live_count": sum(1 for k in keys if not k.is_deleted),
        },
    )
