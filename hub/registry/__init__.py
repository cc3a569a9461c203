"""Device registry and provisioning: homes, devices, per-device broker credentials, ACL."""

from hub.registry.broker import BrokerSecurity, render_acl, render_passwd
from hub.registry.credentials import mosquitto_hash, new_device_secret, verify_mosquitto_hash
from hub.registry.service import (
    DeviceCredentials,
    ProvisioningError,
    create_home,
    issue_credentials,
    provision_device,
    revoke_device,
)

__all__ = [
    "BrokerSecurity",
    "DeviceCredentials",
    "ProvisioningError",
    "create_home",
    "issue_credentials",
    "mosquitto_hash",
    "new_device_secret",
    "provision_device",
    "render_acl",
    "render_passwd",
    "revoke_device",
    "verify_mosquitto_hash",
]
