"""Trading simulator: option accounts, permissions, money credited today

Revision ID: 0a64e9906dfd
Revises: 90bd93e1b51c
Create Date: 2026-12-02 04:25:56.894798

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0a64e9906dfd'
down_revision = '90bd93e1b51c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sim_trading_position', schema=None) as batch_op:
        batch_op.add_column(sa.Column('option_account', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('permissions', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('credited_today', sa.Numeric(precision=18, scale=2), nullable=False, server_default='0'))



def downgrade():
    with op.batch_alter_table('sim_trading_position', schema=None) as batch_op:
        batch_op.drop_column('credited_today')
        batch_op.drop_column('permissions')
        batch_op.drop_column('option_account')

