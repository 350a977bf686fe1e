"""The 13 services whose credentials Secrets Manager can create, as data.

For each service: the key IBM uses in CRNs, the display label, the IAM roles its credentials can
carry (docs/service-credentials.md, "Assigning IAM service access role"), whether HMAC keys apply
(Cloud Object Storage only), and how the credentials of a new key look. The shapes follow what
each service's resource keys return (reference/sm-api.md §6.2): the IAM fields every key has, plus
the service's own parts (COS endpoints and HMAC keys, a database's connection strings and CA
certificate, Event Streams' SASL brokers...).

Random values come from `secrets`. Facts that belong to the instance rather than to one key (a
database's hostnames and port, a Cloudant account) are derived from the instance guid, so every
key of an instance points at the same endpoints, as in IBM Cloud.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from engines_app.providers.resource_controller import RoleInfo

GLOBAL = "global"


# ---------------------------------------------------------------------------------------------
# Roles


def platform_role(name: str) -> RoleInfo:
    return RoleInfo(name=name, crn=f"crn:v1:bluemix:public:iam::::role:{name}")


def service_role(name: str, *, service: str = "iam") -> RoleInfo:
    """A service role; roles that only one service defines carry that service's name."""
    return RoleInfo(
        name=name, crn=f"crn:v1:bluemix:public:{service}::::serviceRole:{name.replace(' ', '')}"
    )


_SERVICE_ROLES = (service_role("Manager"), service_role("Writer"), service_role("Reader"))
_PLATFORM_ROLES = tuple(platform_role(n) for n in ("Administrator", "Editor", "Operator", "Viewer"))
_DATABASE_ROLES = _SERVICE_ROLES + _PLATFORM_ROLES


# ---------------------------------------------------------------------------------------------
# What a generator gets


@dataclass(frozen=True)
class KeyContext:
    """Everything about a new key that its credentials mention. None of it is secret."""

    service: str
    region: str
    instance_guid: str
    instance_crn: str
    key_crn: str
    key_name: str
    role_crn: str | None
    serviceid_crn: str
    apikey_id: str
    hmac: bool


CredentialParts = Callable[[KeyContext, str], dict[str, Any]]


@dataclass(frozen=True)
class ServiceSpec:
    key: str
    label: str
    roles: tuple[RoleInfo, ...]
    # The service's own credential fields; gets the context and the key's API key.
    parts: CredentialParts
    hmac: bool = False
    # Cloud Object Storage instances are global; every other service lives in one region.
    is_global: bool = False

    def role(self, value: str) -> RoleInfo | None:
        """The role named `value` (by name, case-insensitively, or by CRN), if offered."""
        wanted = value.strip()
        for role in self.roles:
            if wanted == role.crn or wanted.casefold() == role.name.casefold():
                return role
        return None

    def role_name(self, crn: str) -> str:
        """The display name of a role CRN; "None" for no role (a pre-configured service ID)."""
        if not crn:
            return "None"
        for role in self.roles:
            if role.crn == crn:
                return role.name
        return crn.rsplit(":", 1)[-1]


# ---------------------------------------------------------------------------------------------
# Random and derived values


def new_apikey() -> str:
    # 33 random bytes are 44 base64url characters, the length of an IBM Cloud API key.
    return secrets.token_urlsafe(33)


def new_apikey_id() -> str:
    return f"ApiKey-{uuid.uuid4()}"


def new_serviceid_crn(account_id: str) -> str:
    return f"crn:v1:bluemix:public:iam-identity::a/{account_id}::serviceid:ServiceId-{uuid.uuid4()}"


def _derived(instance_guid: str, purpose: str) -> bytes:
    """Stable bytes for instance-level facts (hostnames, ports). Not secret, not random."""
    return hashlib.sha256(f"{purpose}:{instance_guid}".encode()).digest()


def _derived_label(instance_guid: str, purpose: str, length: int = 20) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in _derived(instance_guid, purpose)[:length])


def _derived_port(instance_guid: str) -> int:
    return 30000 + int.from_bytes(_derived(instance_guid, "port")[:2], "big") % 2500


def _derived_uuid(instance_guid: str, purpose: str) -> str:
    return str(uuid.UUID(bytes=_derived(instance_guid, purpose)[:16], version=4))


def self_signed_ca_base64(common_name: str) -> str:
    """A real self-signed CA certificate (PEM, then base64), as Cloud Databases hand out."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


# ---------------------------------------------------------------------------------------------
# Service-specific parts


def _cos_parts(ctx: KeyContext, apikey: str) -> dict[str, Any]:
    parts: dict[str, Any] = {
        "endpoints": "https://control.cloud-object-storage.cloud.ibm.com/v2/endpoints"
    }
    if ctx.hmac:
        parts["cos_hmac_keys"] = {
            "access_key_id": secrets.token_hex(16),
            "secret_access_key": secrets.token_hex(24),
        }
    return parts


@dataclass(frozen=True)
class _Engine:
    """How one Cloud Databases engine spells its connection."""

    connection: str
    scheme: str
    database: str | None
    query: dict[str, str]
    cli: str
    hosts: int = 1


def _database_parts(engine: _Engine) -> CredentialParts:
    def parts(ctx: KeyContext, apikey: str) -> dict[str, Any]:
        username = "ibm_cloud_" + str(uuid.uuid4()).replace("-", "_")
        password = secrets.token_hex(32)
        domain = _derived_label(ctx.instance_guid, "icd-host")
        port = _derived_port(ctx.instance_guid)
        members = (
            [f"{ctx.instance_guid}-{i}" for i in range(engine.hosts)]
            if engine.hosts > 1
            else [ctx.instance_guid]
        )
        hosts = [
            {"hostname": f"{member}.{domain}.databases.appdomain.cloud", "port": port}
            for member in members
        ]
        netloc = ",".join(f"{h['hostname']}:{h['port']}" for h in hosts)
        path = f"/{engine.database}" if engine.database is not None else ""
        query = "&".join(f"{k}={v}" for k, v in engine.query.items())
        composed = f"{engine.scheme}://{username}:{password}@{netloc}{path}"
        if query:
            composed = f"{composed}?{query}"
        certificate = {
            "certificate_base64": self_signed_ca_base64(ctx.instance_guid),
            "name": _derived_uuid(ctx.instance_guid, "icd-cert"),
        }
        return {
            "connection": {
                engine.connection: {
                    "authentication": {
                        "method": "direct",
                        "password": password,
                        "username": username,
                    },
                    "certificate": certificate,
                    "composed": [composed],
                    "database": engine.database,
                    "hosts": hosts,
                    "path": path,
                    "query_options": dict(engine.query),
                    "scheme": engine.scheme,
                    "type": "uri",
                },
                "cli": {
                    "arguments": [[composed]],
                    "bin": engine.cli,
                    "certificate": certificate,
                    "composed": [f"{engine.cli} '{composed}'"],
                    "type": "cli",
                },
            },
            "instance_administration_api": {
                "deployment_id": ctx.instance_crn,
                "instance_id": ctx.instance_crn,
                "root": f"https://api.{ctx.region}.databases.cloud.ibm.com/v5/ibm",
            },
        }

    return parts


def _event_streams_parts(ctx: KeyContext, apikey: str) -> dict[str, Any]:
    cluster = _derived_label(ctx.instance_guid, "es-cluster", 16)
    svc = f"svc{int.from_bytes(_derived(ctx.instance_guid, 'es-svc')[:1], 'big') % 9 + 1:02d}"
    base = f"{cluster}.{svc}.{ctx.region}.eh.cloud.ibm.com"
    return {
        "api_key": apikey,
        "instance_id": ctx.instance_guid,
        "kafka_admin_url": f"https://{base}",
        "kafka_brokers_sasl": [
            f"broker-{i}-{cluster}.kafka.{svc}.{ctx.region}.eh.cloud.ibm.com:9093" for i in range(6)
        ],
        "kafka_http_url": f"https://{base}",
        # Event Streams authenticates SASL PLAIN with the user "token" and the API key.
        "password": apikey,
        "user": "token",
    }


def _app_id_parts(ctx: KeyContext, apikey: str) -> dict[str, Any]:
    root = f"https://{ctx.region}.appid.cloud.ibm.com"
    tenant = ctx.instance_guid
    return {
        "appidServiceEndpoint": root,
        "clientId": str(uuid.uuid4()),
        "discoveryEndpoint": f"{root}/oauth/v4/{tenant}/.well-known/openid-configuration",
        "managementUrl": f"{root}/management/v4/{tenant}",
        "oauthServerUrl": f"{root}/oauth/v4/{tenant}",
        "profilesUrl": root,
        "secret": secrets.token_urlsafe(36),
        "tenantId": tenant,
        "version": 4,
    }


def _app_config_parts(ctx: KeyContext, apikey: str) -> dict[str, Any]:
    return {
        "guid": ctx.instance_guid,
        "region": ctx.region,
        "url": f"https://{ctx.region}.apprapp.cloud.ibm.com",
    }


def _cloudant_parts(ctx: KeyContext, apikey: str) -> dict[str, Any]:
    username = f"{_derived_uuid(ctx.instance_guid, 'cloudant-account')}-bluemix"
    host = f"{username}.cloudantnosqldb.appdomain.cloud"
    return {"host": host, "url": f"https://{host}", "username": username}


def _event_notifications_parts(ctx: KeyContext, apikey: str) -> dict[str, Any]:
    return {
        "guid": ctx.instance_guid,
        "region": ctx.region,
        "url": f"https://{ctx.region}.event-notifications.cloud.ibm.com/event-notifications",
    }


# ---------------------------------------------------------------------------------------------
# The catalog

_POSTGRES = _Engine("postgres", "postgres", "ibmclouddb", {"sslmode": "verify-full"}, "psql")

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        key="appid",
        label="App ID",
        roles=_SERVICE_ROLES,
        parts=_app_id_parts,
    ),
    ServiceSpec(
        key="apprapp",
        label="App Configuration",
        roles=_SERVICE_ROLES,
        parts=_app_config_parts,
    ),
    ServiceSpec(
        key="cloudantnosqldb",
        label="Cloudant",
        roles=(
            *_SERVICE_ROLES,
            service_role("Monitor", service="cloudantnosqldb"),
            service_role("Checkpointer", service="cloudantnosqldb"),
        ),
        parts=_cloudant_parts,
    ),
    ServiceSpec(
        key="cloud-object-storage",
        label="Cloud Object Storage",
        roles=(
            *_SERVICE_ROLES,
            service_role("Content Reader", service="cloud-object-storage"),
            service_role("Object Reader", service="cloud-object-storage"),
            service_role("Object Writer", service="cloud-object-storage"),
        ),
        parts=_cos_parts,
        hmac=True,
        is_global=True,
    ),
    ServiceSpec(
        key="databases-for-enterprisedb",
        label="Databases for EDB",
        roles=_DATABASE_ROLES,
        parts=_database_parts(_POSTGRES),
    ),
    ServiceSpec(
        key="databases-for-elasticsearch",
        label="Databases for Elasticsearch",
        roles=_DATABASE_ROLES,
        parts=_database_parts(_Engine("https", "https", None, {}, "curl")),
    ),
    ServiceSpec(
        key="databases-for-etcd",
        label="Databases for etcd",
        roles=_DATABASE_ROLES,
        parts=_database_parts(_Engine("grpc", "https", None, {}, "etcdctl")),
    ),
    ServiceSpec(
        key="databases-for-postgresql",
        label="Databases for PostgreSQL",
        roles=_DATABASE_ROLES,
        parts=_database_parts(_POSTGRES),
    ),
    ServiceSpec(
        key="databases-for-mysql",
        label="Databases for MySQL",
        roles=_DATABASE_ROLES,
        parts=_database_parts(
            _Engine("mysql", "mysql", "ibmclouddb", {"ssl-mode": "VERIFY_IDENTITY"}, "mysql")
        ),
    ),
    ServiceSpec(
        key="databases-for-mongodb",
        label="Databases for MongoDB",
        roles=_DATABASE_ROLES,
        parts=_database_parts(
            _Engine(
                "mongodb",
                "mongodb",
                "ibmclouddb",
                {"authSource": "admin", "replicaSet": "replset", "tls": "true"},
                "mongosh",
                hosts=3,
            )
        ),
    ),
    ServiceSpec(
        key="databases-for-redis",
        label="Databases for Redis",
        roles=_DATABASE_ROLES,
        parts=_database_parts(_Engine("rediss", "rediss", "0", {}, "redli")),
    ),
    ServiceSpec(
        key="event-notifications",
        label="Event Notifications",
        roles=(
            *_SERVICE_ROLES,
            service_role("Channel Editor", service="event-notifications"),
            service_role("Event Source Manager", service="event-notifications"),
            service_role("Device Manager", service="event-notifications"),
        ),
        parts=_event_notifications_parts,
    ),
    ServiceSpec(
        key="messagehub",
        label="Event Streams",
        roles=_SERVICE_ROLES,
        parts=_event_streams_parts,
    ),
)

BY_KEY: dict[str, ServiceSpec] = {spec.key: spec for spec in SERVICES}


def get_service(key: str) -> ServiceSpec | None:
    return BY_KEY.get(key)


def generate_credentials(ctx: KeyContext) -> dict[str, Any]:
    """The credentials of a new key: IAM fields, then the service's own, keys sorted as IBM does."""
    spec = BY_KEY[ctx.service]
    apikey = new_apikey()
    credentials: dict[str, Any] = {
        "apikey": apikey,
        "iam_apikey_description": f"Auto-generated for key {ctx.key_crn}",
        "iam_apikey_id": ctx.apikey_id,
        "iam_apikey_name": ctx.key_name,
        "iam_serviceid_crn": ctx.serviceid_crn,
        "resource_instance_id": ctx.instance_crn,
    }
    if ctx.role_crn:
        credentials["iam_role_crn"] = ctx.role_crn
    credentials.update(spec.parts(ctx, apikey))
    return dict(sorted(credentials.items()))
