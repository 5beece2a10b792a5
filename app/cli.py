"""flask commands: backup and restore."""
from pathlib import Path

import click
from flask import Flask

from app.services import backups, system_log


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


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
