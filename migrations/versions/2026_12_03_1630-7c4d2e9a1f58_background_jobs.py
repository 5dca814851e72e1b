"""Background jobs on leases (table job); exports and imports left running by a thread are failed

Before this revision an export or import ran in a thread of the web process, and one whose process
died stayed "running" for ever. Those still queued or running are marked failed with a message, so
the person who asked starts them again; from now on the job worker takes up what a dead worker left.

Revision ID: 7c4d2e9a1f58
Revises: 5b8e2f4a9c61
Create Date: 2026-12-03 16:30:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c4d2e9a1f58'
down_revision = '5b8e2f4a9c61'
branch_labels = None
depends_on = None

INTERRUPTED = '系统升级时该任务中断，请重新发起'


def upgrade():
    op.create_table(
        'job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=48), nullable=False),
        sa.Column('params', sa.Text(), nullable=False),
        sa.Column('dedup_key', sa.String(length=160), nullable=True),
        sa.Column('subject_type', sa.String(length=32), nullable=True),
        sa.Column('subject_id', sa.Integer(), nullable=True),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('run_after', sa.DateTime(), nullable=False),
        sa.Column('worker', sa.String(length=120), nullable=True),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('result', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['requested_by_id'], ['staff.id'], name=op.f('fk_job_requested_by_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
        sa.UniqueConstraint('dedup_key', name=op.f('uq_job_dedup_key')),
    )
    op.create_index('ix_job_due', 'job', ['status', 'run_after'], unique=False)
    op.create_index('ix_job_subject', 'job', ['subject_type', 'subject_id'], unique=False)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for table in ('export_job', 'grading_import_job'):
        jobs = sa.table(table, sa.column('status', sa.String), sa.column('error', sa.Text),
                        sa.column('finished_at', sa.DateTime))
        op.execute(jobs.update().where(jobs.c.status.in_(['queued', 'running']))
                   .values(status='failed', error=INTERRUPTED, finished_at=now))


def downgrade():
    op.drop_index('ix_job_subject', table_name='job')
    op.drop_index('ix_job_due', table_name='job')
    op.drop_table('job')
