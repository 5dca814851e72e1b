"""Simulator records for changes and closure: sub-account status and links, bank balances, trading positions

Revision ID: ecd00e95adfe
Revises: a9c8e7d6f5b4
Create Date: 2026-12-02 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ecd00e95adfe'
down_revision = 'a9c8e7d6f5b4'
branch_labels = None
depends_on = None

sub_account = sa.table(
    'sim_csdc_sub_account',
    sa.column('confirmed', sa.Boolean()),
    sa.column('link_state', sa.String()),
    sa.column('status', sa.String()),
    sa.column('firm', sa.String()),
)


def upgrade():
    op.create_table('sim_bank_balance',
    sa.Column('fund_account_no', sa.String(length=16), nullable=False),
    sa.Column('balance', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('bank_code', sa.String(length=8), nullable=True),
    sa.Column('card_index', sa.String(length=64), nullable=True),
    sa.Column('bound', sa.Boolean(), nullable=False),
    sa.Column('key_info_confirmed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('fund_account_no', name=op.f('pk_sim_bank_balance'))
    )
    op.create_table('sim_trading_position',
    sa.Column('fund_account_no', sa.String(length=16), nullable=False),
    sa.Column('holdings', sa.JSON(), nullable=False),
    sa.Column('open_orders', sa.Integer(), nullable=False),
    sa.Column('in_transit', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.Column('last_trade_on', sa.Date(), nullable=True),
    sa.Column('margin_account', sa.Boolean(), nullable=False),
    sa.Column('designated_sh', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('fund_account_no', name=op.f('pk_sim_trading_position'))
    )
    op.create_table('sim_trading_request',
    sa.Column('idempotency_key', sa.String(length=80), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('idempotency_key', name=op.f('pk_sim_trading_request'))
    )

    with op.batch_alter_table('sim_csdc_unified_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='normal', nullable=False))
        batch_op.add_column(sa.Column('id_valid_to', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('mobile', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('address', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('postcode', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('email', sa.String(length=120), nullable=True))

    with op.batch_alter_table('sim_csdc_sub_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='normal', nullable=False))
        batch_op.add_column(sa.Column('link_state', sa.String(length=16), server_default='confirmed', nullable=False))
        batch_op.add_column(sa.Column('firm', sa.String(length=16), server_default='ours', nullable=False))
    op.execute(sub_account.update().where(sub_account.c.confirmed == sa.false()).values(link_state='unconfirmed'))
    # A person may hold a sub-account of the same market at another firm: no longer one per market.
    with op.batch_alter_table('sim_csdc_sub_account', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sim_csdc_sub_account_unified_account_no_market', type_='unique')
        batch_op.drop_column('confirmed')
        batch_op.create_index(batch_op.f('ix_sim_csdc_sub_account_unified_account_no'), ['unified_account_no'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('sim_csdc_sub_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute(sub_account.update().where(sub_account.c.link_state == 'unconfirmed').values(confirmed=False))
    # The old records know one sub-account of ours per market: other firms' and closed ones cannot be kept.
    op.execute(sub_account.delete().where((sub_account.c.firm != 'ours') | (sub_account.c.status == 'closed')))
    with op.batch_alter_table('sim_csdc_sub_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sim_csdc_sub_account_unified_account_no'))
        batch_op.create_unique_constraint('uq_sim_csdc_sub_account_unified_account_no_market',
                                          ['unified_account_no', 'market'])
        batch_op.drop_column('firm')
        batch_op.drop_column('link_state')
        batch_op.drop_column('status')

    with op.batch_alter_table('sim_csdc_unified_account', schema=None) as batch_op:
        batch_op.drop_column('email')
        batch_op.drop_column('postcode')
        batch_op.drop_column('address')
        batch_op.drop_column('mobile')
        batch_op.drop_column('id_valid_to')
        batch_op.drop_column('status')

    op.drop_table('sim_trading_request')
    op.drop_table('sim_trading_position')
    op.drop_table('sim_bank_balance')
