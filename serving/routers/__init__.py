"""One router per resource."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute


def answer_head_as_get(router: APIRouter) -> None:
    """Give each GET route of the router a HEAD route: the same status and headers, no body.

    Load balancers, uptime checks and `curl -I` probe with HEAD, and a FastAPI route answers only the methods it
    names (405 to the others). The HEAD routes stay out of the schema, where a second method of one function would
    repeat its operation id. Call it after the router's GET routes are added; a path that has a HEAD route keeps it.
    """
    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    # An APIRoute always has its methods (["GET"] by default); the None is the type of starlette's plain Route.
    answered = {route.path for route in routes if "HEAD" in (route.methods or ())}
    for route in routes:
        if "GET" in (route.methods or ()) and route.path not in answered:
            router.add_api_route(
                # The router's prefix is already part of the path; add_api_route would add it again.
                route.path.removeprefix(router.prefix),
                route.endpoint,
                methods=["HEAD"],
                # What the GET answer is built from, so its status and headers are the same.
                response_model=route.response_model,
                status_code=route.status_code,
                # The route's own dependencies, so a guarded GET is guarded as HEAD too; add_api_route puts the
                # router's own back in front.
                dependencies=route.dependencies[len(router.dependencies) :],
                response_class=route.response_class,
                include_in_schema=False,
                name=f"{route.name}_head",
            )
