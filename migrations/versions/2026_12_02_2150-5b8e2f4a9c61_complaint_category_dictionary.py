"""Complaint business lines become a dictionary administrators keep (kind complaint_category)

The codes are those complaints already store, so existing records keep their labels.

Revision ID: 5b8e2f4a9c61
Revises: 4ec9e3abb395
Create Date: 2026-12-02 21:50:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b8e2f4a9c61'
down_revision = '4ec9e3abb395'
branch_labels = None
depends_on = None

CATEGORIES = (
    ('brokerage', '经纪业务'), ('margin', '融资融券'), ('asset_management', '资产管理'), ('options', '期权'),
    ('account', '账户业务'), ('investment_advice', '投资顾问'), ('it_system', '交易系统'),
    ('staff_conduct', '人员服务'), ('other', '其他'),
)

dictionary = sa.table('dictionary_entry', sa.column('kind', sa.String), sa.column('code', sa.String),
                      sa.column('label', sa.String), sa.column('position', sa.Integer), sa.column('enabled', sa.Boolean),
                      sa.column('created_at', sa.DateTime), sa.column('updated_at', sa.DateTime))


def upgrade():
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(dictionary, [
        {'kind': 'complaint_category', 'code': code, 'label': label, 'position': position * 10, 'enabled': True,
         'created_at': now, 'updated_at': now}
        for position, (code, label) in enumerate(CATEGORIES, start=1)])


def downgrade():
    op.execute("DELETE FROM dictionary_entry WHERE kind = 'complaint_category'")
