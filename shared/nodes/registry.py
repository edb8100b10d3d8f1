"""The registry of node config models, built explicitly at start-up from a list."""

from collections.abc import Iterable, Mapping

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

#: (type name, config model) of every node type the engine knows.
CORE_NODE_CONFIGS: tuple[tuple[str, type[NodeConfig]], ...] = (
    ("trigger", TriggerConfig),
    ("set", SetConfig),
    ("webhook", WebhookConfig),
    ("delay", DelayConfig),
    ("event", EventConfig),
    ("human-in-loop", ApprovalConfig),
    ("gmail", GmailConfig),
    ("outlook", OutlookConfig),
    ("microsoft-word", MicrosoftWordConfig),
    ("microsoft-powerpoint", MicrosoftPowerPointConfig),
    ("google-docs", GoogleDocsConfig),
    ("google-slides", GoogleSlidesConfig),
    ("signature", SignatureConfig),
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
