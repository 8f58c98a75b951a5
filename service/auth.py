"""Who is calling: the bearer token of a request, and the actor it acts as.

Every route but the service's description (health, OpenAPI, problem types, the Open311
service list) needs a token: ``Authorization: Bearer cw_...``. Open311 clients may send it
as the ``api_key`` parameter instead, as that standard says. No token, a malformed, unknown
or revoked one: 401, the same answer for each, so that it tells a guesser nothing.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from casework import Actor

from .problems import Problem
from .tokens import TokenInfo, TokenStore

bearer = HTTPBearer(auto_error=False, description="A token of `casework tokens create`.")


def authenticate(request: Request, token: str | None) -> TokenInfo:
    """The holder of ``token``; a 401 problem when there is none."""
    store: TokenStore = request.app.state.tokens
    holder = store.authenticate(token) if token else None
    if holder is None:
        raise Problem("unauthorized",
                      "no valid token: send Authorization: Bearer <token>" if token is None
                      else "the token is not valid (malformed, unknown or revoked)",
                      headers={"WWW-Authenticate": 'Bearer realm="casework"'})
    request.state.token_id = holder.id
    return holder


def token_holder(request: Request,
                 credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
                 ) -> TokenInfo:
    """The dependency of every protected route."""
    return authenticate(request, credentials.credentials if credentials else None)


def current_actor(holder: TokenInfo = Depends(token_holder)) -> Actor:
    return holder.actor
