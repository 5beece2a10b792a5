"""file transfer requests keep the answer as their status (the one recorded-command policy)

Revision ID: c3a9e1f27b40
Revises: b16c0a7e5d21
Create Date: 2026-11-26 07:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c3a9e1f27b40'
down_revision = 'b16c0a7e5d21'
branch_labels = None
depends_on = None


def upgrade():
    # Requests stored before this one were all answered: Accepted stands for them.
    with op.batch_alter_table('file_transfer_requests') as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=False, server_default='Accepted'))


def downgrade():
    with op.batch_alter_table('file_transfer_requests') as batch_op:
        batch_op.drop_column('status')
