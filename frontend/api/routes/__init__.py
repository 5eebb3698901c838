"""JSON API routers, each an `APIRouter(prefix=..., tags=[...])`.

Extension point: further routers (GS1 resolver with link types, compliance exports) are added to
`ROUTERS` here; `create_app` mounts them all.
"""

from frontend.api.routes import auth, batches, capture, compliance, evidence, grants, gs1, wallet

ROUTERS = [
    auth.router,
    batches.router,
    grants.router,
    wallet.router,
    evidence.router,
    compliance.router,
    gs1.router,
    capture.router,
]
