"""The home page's reminder card kept per staff member (table reminder_card)

Counting every reminder source on each home page view cost most of the page; a staff member's
card is now kept, encrypted, and counted again after a few minutes or after their own changes.
Nothing to carry over: a missing card is counted on its first view.

Revision ID: 9d3f6b1c2e47
Revises: 7c4d2e9a1f58
Create Date: 2026-12-03 20:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d3f6b1c2e47'
down_revision = '7c4d2e9a1f58'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reminder_card',
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=80), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('counted_at', sa.DateTime(), nullable=False),
        sa.Column('reminders', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_reminder_card_staff_id_staff')),
        sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_reminder_card')),
    )


def downgrade():
    op.drop_table('reminder_card')
