"""The registry of node config models, built explicitly at start-up from a list."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.nodes.approval import ApprovalConfig
from shared.nodes.base import NodeConfig
from shared.nodes.core import DelayConfig, SetConfig, TriggerConfig, WebhookConfig
from shared.nodes.documents import (
    GoogleDocsConfig,
    GoogleSlidesConfig,
    MicrosoftPowerPointConfig,
    MicrosoftWordConfig,
)
from shared.nodes.email import GmailConfig, OutlookConfig
from shared.nodes.event import EventConfig
from shared.nodes.signature import SignatureConfig

ConfigRegistry = Mapping[str, type[NodeConfig]]


@dataclass(frozen=True)
class NodeTypeEntry:
    """One node type: its name in definitions, the model of its config (what the gateway
    validates a definition with), and where the executor's implementation lives, as
    `module:Class` — imported by the executor only, so the gateway never loads it."""

    name: str
    config: type[NodeConfig]
    implementation: str


def _entry(name: str, config: type[NodeConfig], implementation: str) -> NodeTypeEntry:
    return NodeTypeEntry(name, config, f"services.executor.nodes.{implementation}")


#: Every node type the engine knows: the one list both the definition validator and the
#: executor's registry are built from (adding a node type: CONTRIBUTING.md).
NODE_TYPES: tuple[NodeTypeEntry, ...] = (
    _entry("trigger", TriggerConfig, "trigger:TriggerNode"),
    _entry("set", SetConfig, "set_values:SetNode"),
    _entry("webhook", WebhookConfig, "webhook:WebhookNode"),
    _entry("delay", DelayConfig, "delay:DelayNode"),
    _entry("event", EventConfig, "event:EventNode"),
    _entry("human-in-loop", ApprovalConfig, "approval:ApprovalNode"),
    _entry("gmail", GmailConfig, "gmail:GmailNode"),
    _entry("outlook", OutlookConfig, "outlook:OutlookNode"),
    _entry("microsoft-word", MicrosoftWordConfig, "word:WordNode"),
    _entry("microsoft-powerpoint", MicrosoftPowerPointConfig, "powerpoint:PowerPointNode"),
    _entry("google-docs", GoogleDocsConfig, "google_docs:GoogleDocsNode"),
    _entry("google-slides", GoogleSlidesConfig, "google_slides:GoogleSlidesNode"),
    _entry("signature", SignatureConfig, "signature:SignatureNode"),
)

#: (type name, config model) of every node type the engine knows.
CORE_NODE_CONFIGS: tuple[tuple[str, type[NodeConfig]], ...] = tuple(
    (entry.name, entry.config) for entry in NODE_TYPES
)


def build_config_registry(
    entries: Iterable[tuple[str, type[NodeConfig]]] = CORE_NODE_CONFIGS,
) -> ConfigRegistry:
    registry: dict[str, type[NodeConfig]] = {}
    for name, model in entries:
        if name in registry:
            raise ValueError(f"node type {name!r} registered twice")
        registry[name] = model
    return registry
