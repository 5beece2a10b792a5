"""flask commands: backup, restore, api-key, user."""
from pathlib import Path

import click
from flask import Flask

from app.services import api_keys, backups, system_log, users
from app.services.errors import Conflict, Invalid


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(api_key_group)
    app.cli.add_command(user_group)


@click.group("api-key")
def api_key_group():
    """API keys: with any, /api needs Authorization: Bearer <key>."""


@api_key_group.command("create")
@click.argument("name")
def create_api_key(name: str):
    """Make a key; it is shown once, only its hash is kept."""
    try:
        key = api_keys.create(name)
    except Conflict as error:
        raise click.ClickException(str(error)) from None
    system_log.info("api_key_created", f"API key {name!r} created")
    click.echo(key)


@api_key_group.command("list")
def list_api_keys():
    """The names of the stored keys."""
    for name in api_keys.names():
        click.echo(name)


@api_key_group.command("revoke")
@click.argument("name")
def revoke_api_key(name: str):
    """Delete a key: requests with it get 401 from now on."""
    if not api_keys.revoke(name):
        raise click.ClickException(f"no API key named {name!r}")
    system_log.info("api_key_revoked", f"API key {name!r} revoked")
    click.echo(f"revoked {name}")


@click.group("user")
def user_group():
    """Operator console accounts (roles: admin, operator, viewer)."""


@user_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(users.ROLES), default=users.VIEWER, show_default=True)
@click.password_option(help="Asked for when not given (twice, hidden).")
def create_user(name: str, role: str, password: str):
    """Make a console account."""
    try:
        users.create(name, role, password)
    except Invalid as error:
        raise click.ClickException("; ".join(f"{field}: {' '.join(text)}" for field, text in error.details.items())) \
            from None
    except Conflict as error:
        raise click.ClickException(str(error)) from None
    system_log.info("user_created", f"console account {name!r} ({role}) created by the command line")
    click.echo(f"created {name} ({role})")


@user_group.command("list")
def list_users():
    """The accounts and their roles."""
    for user in users.listing():
        click.echo(f"{user.name}\t{user.role}")


@user_group.command("delete")
@click.argument("name")
def delete_user(name: str):
    """Delete an account: its sessions end at their next request."""
    user = next((user for user in users.listing() if user.name == name), None)
    if user is None:
        raise click.ClickException(f"no account named {name!r}")
    users.delete(user.id)
    system_log.info("user_deleted", f"console account {name!r} deleted by the command line")
    click.echo(f"deleted {name}")


@click.command("backup")
def backup_command():
    """Write a backup of the database to BACKUP_DIR now."""
    try:
        path, removed = backups.make_backup()
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    system_log.info("backup", f"backup {path.name} made by hand", details={"removed": [p.name for p in removed]})
    click.echo(f"{path} ({path.stat().st_size} bytes)")


@click.command("restore")
@click.argument("backup", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Overwrite the database: everything since the backup is lost.")
def restore_command(backup: Path, yes: bool):
    """Replace the database with BACKUP (stop the server first)."""
    if not yes:
        raise click.ClickException(f"restoring {backup.name} overwrites the database and loses everything "
                                   "since; run again with --yes to do it")
    try:
        backups.restore(backup)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored {backup}")
