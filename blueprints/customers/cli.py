"""The `customers` command group; the packages that keep customer records add their commands to it."""
from flask.cli import AppGroup

customers_cli = AppGroup("customers", help="Customer records housekeeping.")
