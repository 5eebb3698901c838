"""Server-rendered pages (Jinja2Templates), kept apart from the JSON API."""

from frontend.web import pages, resolver

ROUTERS = [pages.router, resolver.router]
