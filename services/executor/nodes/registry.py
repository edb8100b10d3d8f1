"""The node-type registry: an explicit dict built at start-up from a list."""

from collections.abc import Iterable, Mapping

from services.executor.nodes.approval import ApprovalNode
from services.executor.nodes.base import NodeType
from services.executor.nodes.delay import DelayNode
from services.executor.nodes.event import EventNode
from services.executor.nodes.gmail import GmailNode
from services.executor.nodes.google_docs import GoogleDocsNode
from services.executor.nodes.google_slides import GoogleSlidesNode
from services.executor.nodes.outlook import OutlookNode
from services.executor.nodes.powerpoint import PowerPointNode
from services.executor.nodes.set_values import SetNode
from services.executor.nodes.signature import SignatureNode
from services.executor.nodes.trigger import TriggerNode
from services.executor.nodes.webhook import WebhookNode
from services.executor.nodes.word import WordNode
from shared.errors import DocflowError

NodeRegistry = Mapping[str, NodeType]


class UnknownNodeType(DocflowError):
    pass


def core_node_types() -> list[NodeType]:
    return [
        TriggerNode(),
        SetNode(),
        WebhookNode(),
        DelayNode(),
        EventNode(),
        ApprovalNode(),
        GmailNode(),
        OutlookNode(),
        WordNode(),
        PowerPointNode(),
        GoogleDocsNode(),
        GoogleSlidesNode(),
        SignatureNode(),
    ]


def build_node_registry(node_types: Iterable[NodeType]) -> NodeRegistry:
    registry: dict[str, NodeType] = {}
    for node_type in node_types:
        if node_type.type_name in registry:
            raise ValueError(f"node type {node_type.type_name!r} registered twice")
        registry[node_type.type_name] = node_type
    return registry


def lookup(registry: NodeRegistry, type_name: str) -> NodeType:
    try:
        return registry[type_name]
    except KeyError:
        raise UnknownNodeType(f"no node type {type_name!r} in this executor") from None
