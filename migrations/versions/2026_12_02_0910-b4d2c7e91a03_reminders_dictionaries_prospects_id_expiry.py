"""Reminders, dictionaries, potential customers and the ID-expiry restriction

Birth month-day on profile versions (birthdays through an index), an index on assessments' expiry,
the dictionaries HQ keeps (seeded with the values records already store), the potential-customer
entry, and the ID-expiry restriction with the accounts it moved.

Revision ID: b4d2c7e91a03
Revises: 3c5a9e71b2d4
Create Date: 2026-12-02 09:00:00.000000

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4d2c7e91a03'
down_revision = '3c5a9e71b2d4'
branch_labels = None
depends_on = None

# The entries each dictionary starts with, as they were when this revision was written; the
# occupation and customer-type codes are those the records already hold.
SEED = {
    'occupation': [
        ('civil_servant', '党政机关、事业单位工作人员'),
        ('enterprise_manager', '企业管理人员'),
        ('professional', '专业技术人员'),
        ('office_staff', '办事人员和有关人员'),
        ('finance', '金融从业人员'),
        ('service', '商业、服务业人员'),
        ('agriculture', '农、林、牧、渔、水利业生产人员'),
        ('production', '生产、运输设备操作人员'),
        ('military', '军人'),
        ('self_employed', '个体工商户、私营业主'),
        ('freelancer', '自由职业者'),
        ('student', '学生'),
        ('retired', '离退休人员'),
        ('unemployed', '无业'),
        ('other', '其他'),
    ],
    'industry': [
        ('A', '农、林、牧、渔业'),
        ('B', '采矿业'),
        ('C', '制造业'),
        ('D', '电力、热力、燃气及水生产和供应业'),
        ('E', '建筑业'),
        ('F', '批发和零售业'),
        ('G', '交通运输、仓储和邮政业'),
        ('H', '住宿和餐饮业'),
        ('I', '信息传输、软件和信息技术服务业'),
        ('J', '金融业'),
        ('K', '房地产业'),
        ('L', '租赁和商务服务业'),
        ('M', '科学研究和技术服务业'),
        ('N', '水利、环境和公共设施管理业'),
        ('O', '居民服务、修理和其他服务业'),
        ('P', '教育'),
        ('Q', '卫生和社会工作'),
        ('R', '文化、体育和娱乐业'),
        ('S', '公共管理、社会保障和社会组织'),
        ('T', '国际组织'),
    ],
    'region': [
        ('11', '北京市'),
        ('12', '天津市'),
        ('13', '河北省'),
        ('14', '山西省'),
        ('15', '内蒙古自治区'),
        ('21', '辽宁省'),
        ('22', '吉林省'),
        ('23', '黑龙江省'),
        ('31', '上海市'),
        ('32', '江苏省'),
        ('33', '浙江省'),
        ('34', '安徽省'),
        ('35', '福建省'),
        ('36', '江西省'),
        ('37', '山东省'),
        ('41', '河南省'),
        ('42', '湖北省'),
        ('43', '湖南省'),
        ('44', '广东省'),
        ('45', '广西壮族自治区'),
        ('46', '海南省'),
        ('50', '重庆市'),
        ('51', '四川省'),
        ('52', '贵州省'),
        ('53', '云南省'),
        ('54', '西藏自治区'),
        ('61', '陕西省'),
        ('62', '甘肃省'),
        ('63', '青海省'),
        ('64', '宁夏回族自治区'),
        ('65', '新疆维吾尔自治区'),
        ('71', '台湾省'),
        ('81', '香港特别行政区'),
        ('82', '澳门特别行政区'),
    ],
    'customer_type': [
        ('individual', '个人'),
        ('institution', '机构'),
    ],
}


def upgrade():
    with op.batch_alter_table('customer_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birth_month_day', sa.String(length=4), nullable=True))
        batch_op.create_index(batch_op.f('ix_customer_profile_birth_month_day'), ['birth_month_day'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE customer_profile SET birth_month_day = to_char(birth_date, 'MMDD') WHERE birth_date IS NOT NULL")
    else:
        op.execute("UPDATE customer_profile SET birth_month_day = strftime('%m%d', birth_date) WHERE birth_date IS NOT NULL")

    with op.batch_alter_table('suitability_assessment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suitability_assessment_expires_on'), ['expires_on'], unique=False)

    dictionary = op.create_table('dictionary_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['staff.id'], name=op.f('fk_dictionary_entry_updated_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dictionary_entry')),
    sa.UniqueConstraint('kind', 'code', name=op.f('uq_dictionary_entry_kind_code'))
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(dictionary, [
        {'kind': kind, 'code': code, 'label': label, 'position': position * 10, 'enabled': True,
         'created_at': now, 'updated_at': now}
        for kind, values in SEED.items() for position, (code, label) in enumerate(values, start=1)])

    op.create_table('prospect_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('client_token', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'], name=op.f('fk_prospect_entry_created_by_id_staff')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_prospect_entry_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prospect_entry')),
    sa.UniqueConstraint('client_token', name=op.f('uq_prospect_entry_client_token')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_prospect_entry_customer_id'))
    )

    op.create_table('id_expiry_restriction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('open_customer_id', sa.Integer(), nullable=True),
    sa.Column('id_document_id', sa.Integer(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('grace_days', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('restricted_at', sa.DateTime(), nullable=False),
    sa.Column('previous_statuses', sa.JSON(), nullable=False),
    sa.Column('lifted_at', sa.DateTime(), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lift_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_id_expiry_restriction_customer_id_customer')),
    sa.ForeignKeyConstraint(['id_document_id'], ['customer_id_document.id'], name=op.f('fk_id_expiry_restriction_id_document_id_customer_id_document')),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['staff.id'], name=op.f('fk_id_expiry_restriction_lifted_by_id_staff')),
    sa.ForeignKeyConstraint(['open_customer_id'], ['customer.id'], name=op.f('fk_id_expiry_restriction_open_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_id_expiry_restriction')),
    sa.UniqueConstraint('open_customer_id', name=op.f('uq_id_expiry_restriction_open_customer_id'))
    )
    with op.batch_alter_table('id_expiry_restriction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_id_expiry_restriction_customer_id'), ['customer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('id_expiry_restriction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_id_expiry_restriction_customer_id'))
    op.drop_table('id_expiry_restriction')
    op.drop_table('prospect_entry')
    op.drop_table('dictionary_entry')
    with op.batch_alter_table('suitability_assessment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suitability_assessment_expires_on'))
    with op.batch_alter_table('customer_profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_profile_birth_month_day'))
        batch_op.drop_column('birth_month_day')
