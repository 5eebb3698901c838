"""Server-rendered pages (Jinja2Templates), kept apart from the JSON API.

The GS1 Digital Link resolver that QR labels point at lives in frontend/api/routes/gs1.py.
"""

from frontend.web import capture, pages

ROUTERS = [pages.data_router, pages.router, capture.router]
