"""The embedded resource controller: catalog, instances, resource keys and the console pages."""

from __future__ import annotations

import base64
import json
import re

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console.errors import NotFoundError
from console.models import AuditEvent
from engines_app.providers.embedded.resource_controller import catalog, services
from engines_app.providers.embedded.resource_controller.models import (
    ResourceKey,
    ServiceInstance,
)
from engines_app.providers.resource_controller import (
    ResourceControllerProvider,
    get_resource_controller,
)
from secrets_app.key_rotation import sealed_models
from tests.factories import factory_actor

pytestmark = pytest.mark.django_db

SUPPORTED = {
    "appid",
    "apprapp",
    "cloudantnosqldb",
    "cloud-object-storage",
    "databases-for-enterprisedb",
    "databases-for-elasticsearch",
    "databases-for-etcd",
    "databases-for-postgresql",
    "databases-for-mysql",
    "databases-for-mongodb",
    "databases-for-redis",
    "event-notifications",
    "messagehub",
}
ROLE_CRN_RE = re.compile(r"^crn:v1:bluemix:public:[a-z-]+::::(serviceRole|role):[A-Za-z]+$")
SERVICEID_CRN = (
    "crn:v1:bluemix:public:iam-identity::a/a5ebf2570dcaedf18d7ed78e216c263a::serviceid:"
    "ServiceId-c0c7cfa4-b24e-4917-ad74-278f2fee5ba0"
)


def make_instance(
    *, name: str = "postgres-orders", service: str = "databases-for-postgresql", region: str = ""
) -> ServiceInstance:
    spec = catalog.BY_KEY[service]
    return services.instance_create(
        actor=factory_actor(),
        name=name,
        service=service,
        region=region or (catalog.GLOBAL if spec.is_global else "us-south"),
    )


def provider() -> ResourceControllerProvider:
    return get_resource_controller()


def _secret_values(credentials: dict) -> list[str]:
    """Every string in the credentials that must never be shown or stored in clear."""
    values = [credentials["apikey"]]
    for conn in credentials.get("connection", {}).values():
        if "authentication" in conn:
            values.append(conn["authentication"]["password"])
    if "cos_hmac_keys" in credentials:
        values.append(credentials["cos_hmac_keys"]["secret_access_key"])
    if "secret" in credentials:
        values.append(credentials["secret"])
    return values


# ---------------------------------------------------------------------------------------------
# Catalog


def test_catalog_covers_exactly_the_13_supported_services():
    assert {spec.key for spec in catalog.SERVICES} == SUPPORTED
    assert len(catalog.SERVICES) == 13
    for spec in catalog.SERVICES:
        assert spec.label
        assert spec.roles, spec.key
        assert "None" not in [r.name for r in spec.roles]
        assert all(ROLE_CRN_RE.match(r.crn) for r in spec.roles), spec.key
        assert len({r.crn for r in spec.roles}) == len(spec.roles)
    assert [s.key for s in catalog.SERVICES if s.hmac] == ["cloud-object-storage"]


def test_provider_lists_services_and_their_roles():
    rc = provider()
    infos = rc.list_services()
    assert {info.key for info in infos} == SUPPORTED
    cos_roles = rc.service_roles(service_key="cloud-object-storage")
    assert {"Manager", "Writer", "Reader", "Object Reader", "Object Writer"} <= set(cos_roles)
    assert "Writer" in rc.service_roles(service_key="messagehub")
    with pytest.raises(NotFoundError):
        rc.service_roles(service_key="kms")


def test_every_sealed_model_includes_resource_keys_for_root_key_rotation():
    assert ResourceKey in sealed_models()


# ---------------------------------------------------------------------------------------------
# Service instances


def test_instance_create_builds_the_crn_and_audits():
    instance = make_instance()
    assert instance.crn == (
        f"crn:v1:bluemix:public:databases-for-postgresql:us-south:a/{settings.SM_ACCOUNT_ID}:"
        f"{instance.guid}::"
    )
    assert instance.account_id == settings.SM_ACCOUNT_ID
    event = AuditEvent.objects.get(action="service_instance.create")
    assert event.object_id == str(instance.guid) and event.object_name == "postgres-orders"
    info = provider().get_instance(crn=instance.crn)
    assert (info.guid, info.name, info.service, info.region) == (
        str(instance.guid),
        "postgres-orders",
        "databases-for-postgresql",
        "us-south",
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "postgres-orders"}, "name", "already exists"),
        ({"service": "kms"}, "service", "does not support service credentials"),
        ({"region": "mars-1"}, "region", "Unknown region 'mars-1'"),
        (
            {"service": "cloud-object-storage", "region": "us-south"},
            "region",
            "instances are global",
        ),
    ],
)
def test_instance_create_rejects_bad_input_by_field(kwargs, field, message):
    make_instance()
    args = {"name": "another", "service": "databases-for-redis", "region": "eu-de", **kwargs}
    with pytest.raises(ValidationError) as exc:
        services.instance_create(actor=factory_actor(), **args)
    assert message in " ".join(exc.value.message_dict[field])
    assert ServiceInstance.objects.count() == 1


def test_seed_is_idempotent():
    actor = factory_actor()
    made = services.seed_service_instances(actor=actor)
    instances = list(ServiceInstance.objects.all())
    assert made == len(instances) >= 5
    assert len({i.service for i in instances if i.region in ("us-south", "eu-de")}) >= 5
    assert {"cos-backups", "postgres-orders"} <= {i.name for i in instances}
    assert services.seed_service_instances(actor=actor) == 0
    assert ServiceInstance.objects.count() == len(instances)
    assert AuditEvent.objects.filter(action="service_instance.create").count() == made


def test_list_instances_filters_by_service():
    services.seed_service_instances(actor=factory_actor())
    rc = provider()
    assert len(rc.list_instances()) == ServiceInstance.objects.count()
    cos = rc.list_instances(service_key="cloud-object-storage")
    assert [i.name for i in cos] == ["cos-backups"]
    assert cos[0].crn.startswith("crn:v1:bluemix:public:cloud-object-storage:global:a/")


def test_unknown_instance_is_not_found():
    rc = provider()
    crn = f"crn:v1:bluemix:public:messagehub:us-south:a/{settings.SM_ACCOUNT_ID}:nope::"
    with pytest.raises(NotFoundError):
        rc.get_instance(crn=crn)
    with pytest.raises(NotFoundError):
        rc.create_resource_key(
            instance_crn=crn,
            name="k",
            role="Writer",
            hmac=False,
            serviceid_crn=None,
            actor=factory_actor(),
        )
    assert ResourceKey.objects.count() == 0


# ---------------------------------------------------------------------------------------------
# Resource keys


def test_create_key_seals_the_credentials_and_returns_them():
    instance = make_instance()
    result = provider().create_resource_key(
        instance_crn=instance.crn,
        name="orders-app",
        role="Writer",
        hmac=False,
        serviceid_crn=None,
        actor=factory_actor(),
    )
    creds = result.credentials
    key = ResourceKey.objects.get()
    assert (
        result.crn
        == key.crn
        == (
            f"crn:v1:bluemix:public:databases-for-postgresql:us-south:a/{settings.SM_ACCOUNT_ID}:"
            f"{instance.guid}:resource-key:{key.guid}"
        )
    )
    assert result.name == "orders-app"
    assert len(creds["apikey"]) == 44
    assert creds["iam_apikey_name"] == "orders-app"
    assert creds["iam_apikey_id"] == key.iam_apikey_id == result.iam_apikey_id
    assert creds["iam_apikey_id"].startswith("ApiKey-")
    assert creds["iam_role_crn"] == "crn:v1:bluemix:public:iam::::serviceRole:Writer"
    assert creds["iam_serviceid_crn"] == key.serviceid_crn
    assert key.serviceid_generated
    assert creds["iam_apikey_description"] == f"Auto-generated for key {key.crn}"
    assert creds["resource_instance_id"] == instance.crn
    postgres = creds["connection"]["postgres"]
    user, password = postgres["authentication"]["username"], postgres["authentication"]["password"]
    assert postgres["composed"][0].startswith(f"postgres://{user}:{password}@{instance.guid}.")
    assert postgres["composed"][0].endswith("/ibmclouddb?sslmode=verify-full")
    pem = base64.b64decode(postgres["certificate"]["certificate_base64"])
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert creds["apikey"] not in repr(result)

    # At rest: the row holds ciphertext only, and no column contains a credential value.
    assert key.has_sealed_value
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM resource_controller_resourcekey WHERE crn = %s", [key.crn])
        row = cursor.fetchone()
    stored = b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row
    )
    for value in _secret_values(creds):
        assert value.encode() not in stored

    # Read back through the one function that opens it; the read is audited, not its value.
    assert services.resource_key_credentials_read(actor=factory_actor(), crn=key.crn) == creds
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"resource_key.create", "resource_key.read_credentials"} <= actions
    audit_text = json.dumps(list(AuditEvent.objects.values("detail", "object_name")))
    for value in _secret_values(creds):
        assert value not in audit_text


def test_role_by_crn_and_role_none_with_an_existing_service_id():
    instance = make_instance(name="cloudant-catalog", service="cloudantnosqldb", region="eu-de")
    rc = provider()
    monitor = "crn:v1:bluemix:public:cloudantnosqldb::::serviceRole:Monitor"
    by_crn = rc.create_resource_key(
        instance_crn=instance.crn,
        name="monitoring",
        role=monitor,
        hmac=False,
        serviceid_crn=None,
        actor=factory_actor(),
    )
    assert by_crn.credentials["iam_role_crn"] == monitor
    assert by_crn.credentials["url"].endswith(".cloudantnosqldb.appdomain.cloud")
    no_role = rc.create_resource_key(
        instance_crn=instance.crn,
        name="preconfigured",
        role=None,
        hmac=False,
        serviceid_crn=SERVICEID_CRN,
        actor=factory_actor(),
    )
    assert "iam_role_crn" not in no_role.credentials
    assert no_role.credentials["iam_serviceid_crn"] == SERVICEID_CRN
    key = ResourceKey.objects.get(crn=no_role.crn)
    assert (key.role_crn, key.role_name, key.serviceid_generated) == ("", "None", False)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"role": "Object Reader"}, "role", "does not offer the role 'Object Reader'"),
        ({"name": ""}, "name", "This field is required."),
        ({"name": " padded"}, "name", "leading or trailing spaces"),
        ({"serviceid_crn": "ServiceId-123"}, "serviceid_crn", "Enter a service ID CRN"),
    ],
)
def test_create_key_rejects_bad_input_by_field(kwargs, field, message):
    instance = make_instance()
    args = {"name": "orders-app", "role": "Writer", "hmac": False, "serviceid_crn": None, **kwargs}
    with pytest.raises(ValidationError) as exc:
        provider().create_resource_key(instance_crn=instance.crn, actor=factory_actor(), **args)
    assert message in " ".join(exc.value.message_dict[field])
    assert ResourceKey.objects.count() == 0


def test_cos_hmac_keys_only_when_asked():
    instance = make_instance(name="cos-backups", service="cloud-object-storage")
    rc = provider()
    with_hmac = rc.create_resource_key(
        instance_crn=instance.crn,
        name="backup-writer",
        role="Object Writer",
        hmac=True,
        serviceid_crn=None,
        actor=factory_actor(),
    ).credentials
    hmac_keys = with_hmac["cos_hmac_keys"]
    assert re.fullmatch(r"[0-9a-f]{32}", hmac_keys["access_key_id"])
    assert re.fullmatch(r"[0-9a-f]{48}", hmac_keys["secret_access_key"])
    assert with_hmac["endpoints"].startswith("https://control.cloud-object-storage.")
    assert with_hmac["iam_role_crn"] == (
        "crn:v1:bluemix:public:cloud-object-storage::::serviceRole:ObjectWriter"
    )
    without = rc.create_resource_key(
        instance_crn=instance.crn,
        name="backup-reader",
        role="Reader",
        hmac=False,
        serviceid_crn=None,
        actor=factory_actor(),
    ).credentials
    assert "cos_hmac_keys" not in without
    assert ResourceKey.objects.get(name="backup-writer").hmac is True


def test_hmac_is_rejected_for_other_services():
    instance = make_instance(name="events-orders", service="messagehub")
    with pytest.raises(ValidationError) as exc:
        provider().create_resource_key(
            instance_crn=instance.crn,
            name="producer",
            role="Writer",
            hmac=True,
            serviceid_crn=None,
            actor=factory_actor(),
        )
    assert exc.value.message_dict["hmac"] == [
        "HMAC credentials exist only for Cloud Object Storage; Event Streams does not support them."
    ]
    assert ResourceKey.objects.count() == 0


@pytest.mark.parametrize("service", sorted(SUPPORTED))
def test_every_service_gets_its_own_credential_shape(service):
    instance = make_instance(name=f"inst-{service}", service=service)
    creds = (
        provider()
        .create_resource_key(
            instance_crn=instance.crn,
            name="k1",
            role=catalog.BY_KEY[service].roles[0].name,
            hmac=False,
            serviceid_crn=None,
            actor=factory_actor(),
        )
        .credentials
    )
    for field in (
        "apikey",
        "iam_apikey_description",
        "iam_apikey_id",
        "iam_apikey_name",
        "iam_role_crn",
        "iam_serviceid_crn",
        "resource_instance_id",
    ):
        assert creds[field], field
    assert list(creds) == sorted(creds)
    if service.startswith("databases-for-"):
        (kind,) = (k for k in creds["connection"] if k != "cli")
        conn = creds["connection"][kind]
        assert conn["composed"][0].startswith(f"{conn['scheme']}://ibm_cloud_")
        assert conn["authentication"]["password"] in conn["composed"][0]
        assert conn["certificate"]["certificate_base64"]
        assert creds["instance_administration_api"]["instance_id"] == instance.crn
    elif service == "messagehub":
        assert len(creds["kafka_brokers_sasl"]) == 6
        assert all(b.endswith(":9093") for b in creds["kafka_brokers_sasl"])
        assert (creds["user"], creds["password"]) == ("token", creds["apikey"])
    elif service == "appid":
        assert creds["tenantId"] == str(instance.guid)
        assert creds["oauthServerUrl"].endswith(f"/oauth/v4/{instance.guid}")
    elif service == "cloud-object-storage":
        assert "endpoints" in creds
    else:
        assert creds["url"].startswith("https://")


def test_keys_of_one_instance_share_its_endpoints_but_not_secrets():
    instance = make_instance(name="redis-sessions", service="databases-for-redis", region="eu-de")
    rc = provider()
    first, second = (
        rc.create_resource_key(
            instance_crn=instance.crn,
            name=name,
            role="Reader",
            hmac=False,
            serviceid_crn=None,
            actor=factory_actor(),
        ).credentials
        for name in ("a", "b")
    )
    assert first["connection"]["rediss"]["hosts"] == second["connection"]["rediss"]["hosts"]
    assert first["apikey"] != second["apikey"]
    assert (
        first["connection"]["rediss"]["authentication"]
        != second["connection"]["rediss"]["authentication"]
    )


def test_delete_invalidates_the_key_and_is_idempotent():
    instance = make_instance()
    rc = provider()
    result = rc.create_resource_key(
        instance_crn=instance.crn,
        name="orders-app",
        role="Writer",
        hmac=False,
        serviceid_crn=None,
        actor=factory_actor(),
    )
    rc.delete_resource_key(crn=result.crn, actor=factory_actor())
    key = ResourceKey.objects.get(crn=result.crn)
    assert key.is_deleted and key.deleted_by.startswith("IBMid-")
    assert not key.has_sealed_value and key.get_sealed() is None
    with pytest.raises(NotFoundError):
        services.resource_key_credentials_read(actor=factory_actor(), crn=result.crn)
    rc.delete_resource_key(crn=result.crn, actor=factory_actor())
    assert AuditEvent.objects.filter(action="resource_key.delete").count() == 1
    with pytest.raises(NotFoundError):
        rc.delete_resource_key(crn=result.crn + "0", actor=factory_actor())


# ---------------------------------------------------------------------------------------------
# Console pages


def test_pages_require_login(client):
    instance = make_instance()
    for url in (
        reverse("resource_controller:instance-list"),
        reverse("resource_controller:instance-detail", args=[instance.guid]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_list_page_shows_instances_with_live_key_counts(owner_client):
    services.seed_service_instances(actor=factory_actor())
    postgres = ServiceInstance.objects.get(name="postgres-orders")
    rc = provider()
    for name in ("a", "b", "c"):
        rc.create_resource_key(
            instance_crn=postgres.crn,
            name=name,
            role="Reader",
            hmac=False,
            serviceid_crn=None,
            actor=factory_actor(),
        )
    rc.delete_resource_key(crn=ResourceKey.objects.get(name="c").crn, actor=factory_actor())
    response = owner_client.get(reverse("resource_controller:instance-list"))
    assert response.status_code == 200
    html = response.content.decode()
    row = html.split(f'data-instance-guid="{postgres.guid}"')[1].split("</tr>")[0]
    assert "postgres-orders" in row and "Databases for PostgreSQL" in row
    assert "us-south" in row and postgres.crn in row
    assert "<td>2</td>" in row
    assert reverse("resource_controller:instance-detail", args=[postgres.guid]) in row
    assert html.count("data-instance-guid=") == ServiceInstance.objects.count()


def test_list_page_empty_state(owner_client):
    response = owner_client.get(reverse("resource_controller:instance-list"))
    assert response.status_code == 200
    assert "No service instances yet" in response.content.decode()


def test_detail_page_lists_keys_and_never_their_credentials(owner_client):
    instance = make_instance(name="cos-backups", service="cloud-object-storage")
    rc = provider()
    shown = rc.create_resource_key(
        instance_crn=instance.crn,
        name="backup-writer",
        role="Object Writer",
        hmac=True,
        serviceid_crn=None,
        actor=factory_actor(),
    )
    gone = rc.create_resource_key(
        instance_crn=instance.crn,
        name="old-reader",
        role=None,
        hmac=False,
        serviceid_crn=SERVICEID_CRN,
        actor=factory_actor(),
    )
    rc.delete_resource_key(crn=gone.crn, actor=factory_actor())
    response = owner_client.get(
        reverse("resource_controller:instance-detail", args=[instance.guid])
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cloud Object Storage" in html and instance.crn in html
    row = html.split(f'data-key-guid="{shown.crn.rsplit(":", 1)[1]}"')[1].split("</tr>")[0]
    assert "backup-writer" in row and "Object Writer" in row and "HMAC" in row and "Active" in row
    old = html.split(f'data-key-guid="{gone.crn.rsplit(":", 1)[1]}"')[1].split("</tr>")[0]
    assert "old-reader" in old and "None" in old and "Deleted" in old
    assert "1 live key." in html
    # Canary: no credential value of either key appears on either page.
    list_html = owner_client.get(reverse("resource_controller:instance-list")).content.decode()
    for value in [*_secret_values(shown.credentials), *_secret_values(gone.credentials)]:
        assert value not in html
        assert value not in list_html
    assert shown.credentials["cos_hmac_keys"]["access_key_id"] not in html


@pytest.mark.parametrize("guid", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
def test_detail_page_unknown_instance_is_404(owner_client, guid):
    response = owner_client.get(reverse("resource_controller:instance-detail", args=[guid]))
    assert response.status_code == 404


def test_pages_are_read_only(owner_client):
    response = owner_client.post(reverse("resource_controller:instance-list"))
    assert response.status_code == 405


def test_list_page_query_count_does_not_grow_with_instances(
    owner_client, django_assert_num_queries
):
    make_instance()
    url = reverse("resource_controller:instance-list")
    owner_client.get(url)  # warm the session and any per-process caches
    with CaptureQueriesContext(connection) as one:
        assert owner_client.get(url).status_code == 200
    services.seed_service_instances(actor=factory_actor())
    for instance in ServiceInstance.objects.all():
        provider().create_resource_key(
            instance_crn=instance.crn,
            name=f"key-{instance.name}",
            role="Reader",
            hmac=False,
            serviceid_crn=None,
            actor=factory_actor(),
        )
    assert ServiceInstance.objects.count() >= 6
    with django_assert_num_queries(len(one.captured_queries)):
        response = owner_client.get(url)
    assert response.content.decode().count("data-instance-guid=") >= 6
