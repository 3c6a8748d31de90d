"""The HTTP routes, one module per group (its OpenAPI tag). Each module's ``router(...)`` takes
the collaborators it needs and returns an ``APIRouter``; :mod:`timeline.api.app` includes them."""
