"""casework as an HTTP service: a JSON API over the library, Open311 GeoReport v2, API tokens.

``service.app.create_app`` composes the ASGI application (FastAPI, served by uvicorn through
``casework serve``); ``service.tokens`` is the token table, usable without the web stack (the
``casework tokens`` commands).
"""
