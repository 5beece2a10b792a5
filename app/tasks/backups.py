"""Database backups on a schedule (the same as `flask backup`)."""
from app.services import backups
from app.tasks import job


@job
def backup_database() -> dict:
    path, removed = backups.make_backup()
    return {"backup": path.name, "bytes": path.stat().st_size, "removed": len(removed)}
