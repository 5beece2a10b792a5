"""flask commands: backup, restore, api-key."""
from pathlib import Path

import click
from flask import Flask

from app.services import api_keys, backups, system_log
from app.services.errors import Conflict


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(api_key_group)


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
