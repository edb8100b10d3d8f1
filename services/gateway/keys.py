"""Typed keys for what the application and each request carry."""

import uuid
from typing import Any

from aiohttp import web

from services.gateway.tasks import BackgroundTasks
from shared.nodes.registry import ConfigRegistry
from shared.runtime import Resources

RESOURCES = web.AppKey("resources", Resources)
REGISTRY = web.AppKey("config_registry", ConfigRegistry)
TASKS = web.AppKey("background_tasks", BackgroundTasks)
OPENAPI = web.AppKey("openapi_document", dict[str, Any])

#: The workspace the request's API key belongs to; set by the auth middleware.
WORKSPACE = web.RequestKey("workspace_id", uuid.UUID)


def workspace_of(request: web.Request) -> uuid.UUID:
    return request[WORKSPACE]
