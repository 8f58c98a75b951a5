"""API tokens of the HTTP service: create, list, revoke."""

from __future__ import annotations

import click

from projections.i18n import N_, _
from projections.rendering import table
from service.tokens import TokenStore

from .options import actor_options, db_option, json_option, make_actor, open_app
from .output import to_json, when

TOKEN_HEADERS = [N_("id"), N_("actor"), N_("roles"), N_("unit"), N_("name"), N_("created"),
                 N_("revoked")]


@click.group("tokens")
def tokens_group() -> None:
    """API tokens for `casework serve`: each acts as one actor (id, roles, unit).

    Only a hash of each token is stored; the token itself is shown once, when it is made.
    """


@tokens_group.command("create")
@actor_options
@click.option("--name", default="", metavar="TEXT", help="What the token is for.")
@db_option
@json_option
def create_command(actor: str | None, roles: tuple[str, ...], name: str, db: str | None,
                   as_json: bool) -> None:
    """Make a token that acts as --actor ID[@UNIT] in --role ROLE; print it (once).

    \b
    Example:
      casework tokens create --actor hotline@guanlan --role intake --name "12345 hotline"
    """
    if not actor:
        raise click.UsageError(_("give --actor ID[@UNIT]: whom the token acts as"))
    app = open_app(db, create=True)
    who = make_actor(actor, roles)
    store = TokenStore(app.storage)
    token = store.create(who, app.organisation, name)
    store.close()
    if as_json:
        click.echo(to_json({"token": token, "id": token[3:].partition(".")[0]}))
    else:
        click.echo(token)
        click.echo(_("keep it now: it is not stored and cannot be shown again"), err=True)


@tokens_group.command("list")
@db_option
@json_option
def list_command(db: str | None, as_json: bool) -> None:
    """The tokens: id, actor, roles, unit, name, when made and revoked (never the secret)."""
    store = TokenStore(open_app(db).storage)
    tokens = store.list()
    store.close()
    if as_json:
        click.echo(to_json([token.as_dict() for token in tokens]))
        return
    click.echo(table([[t.id, t.actor.id, ",".join(t.actor.roles), t.actor.unit or "-", t.name,
                       when(t.created_at), when(t.revoked_at)] for t in tokens],
                     [_(header) for header in TOKEN_HEADERS]))


@tokens_group.command("revoke")
@click.argument("token_id")
@db_option
def revoke_command(token_id: str, db: str | None) -> None:
    """Revoke a token by its id: every request with it is refused (401) from now on."""
    store = TokenStore(open_app(db).storage)
    info = store.revoke(token_id.removeprefix("cw_").partition(".")[0])
    store.close()
    click.echo(_("revoked token {token} ({actor}) on {at}").format(
        token=info.id, actor=info.actor.id, at=when(info.revoked_at)))
