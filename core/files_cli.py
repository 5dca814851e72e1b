"""`flask files encrypt-existing`: encrypt the files that older versions kept in the clear."""
import click
from flask.cli import with_appcontext

from core import files

files_cli = click.Group("files", help="The file store: scans, photos, recordings, dossiers, exports.")


@files_cli.command("encrypt-existing")
@with_appcontext
def encrypt_existing_command():
    """Encrypt every stored file still in the clear; safe to run again (encrypted files are left alone)."""
    converted, kept = files.encrypt_existing(report=click.echo)
    click.echo(f"encrypted {converted} file(s); {kept} already encrypted")
