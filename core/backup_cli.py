"""`flask backup DEST` and `flask restore SRC`: the database and the file store, with a checked manifest."""
import click
from flask import current_app
from flask.cli import with_appcontext

from core import backup
from core.extensions import db


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
@with_appcontext
def backup_command(dest):
    """Write a consistent snapshot of the database and the stored files into the new folder DEST."""
    try:
        backup.backup(db.engine, current_app.extensions["file_store"], dest, report=click.echo)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo("backup complete; keep DATA_KEY and SECRET_KEY apart from it")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace what the target database and file store hold.")
@with_appcontext
def restore_command(src, force):
    """Restore the backup in SRC into this app's (empty) database and file store, checking every checksum."""
    try:
        manifest = backup.restore(db.engine, current_app.extensions["file_store"], src, force=force,
                                  report=click.echo)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restore complete (schema revision {manifest['database']['revision']}); "
               "run `flask --app app db upgrade` if this code is newer")
