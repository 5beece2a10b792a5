"""DataTransfer both ways, the password before an accepted change, certificate inventory and issued
certificates, remote-start profiles without a connector

Revision ID: b16c0a7e5d21
Revises: 995d13f20fb8
Create Date: 2026-11-26 06:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b16c0a7e5d21'
down_revision = '995d13f20fb8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('data_transfer_messages') as batch:
        batch.add_column(sa.Column('initiated_by', sa.String(length=16), server_default='ChargePoint',
                                   nullable=False))
        batch.add_column(sa.Column('response_data', sa.Text(), nullable=True))
    with op.batch_alter_table('charge_points') as batch:
        batch.add_column(sa.Column('previous_password_hash', sa.String(length=255), nullable=True))
    with op.batch_alter_table('certificate_signing_requests') as batch:
        batch.add_column(sa.Column('status', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('reason', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('certificate', sa.Text(), nullable=True))
    with op.batch_alter_table('charging_profiles') as batch:
        batch.alter_column('connector_id', existing_type=sa.Integer(), nullable=True)
    op.create_table('installed_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('charge_point_id', sa.String(length=48), nullable=False),
    sa.Column('certificate_type', sa.String(length=32), nullable=False),
    sa.Column('hash_algorithm', sa.String(length=8), nullable=False),
    sa.Column('issuer_name_hash', sa.String(length=128), nullable=False),
    sa.Column('issuer_key_hash', sa.String(length=128), nullable=False),
    sa.Column('serial_number', sa.String(length=40), nullable=False),
    sa.Column('certificate', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['charge_point_id'], ['charge_points.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('charge_point_id', 'hash_algorithm', 'issuer_name_hash', 'issuer_key_hash', 'serial_number',
                        name='uq_installed_certificate')
    )


def downgrade():
    op.drop_table('installed_certificates')
    op.execute("DELETE FROM charging_profiles WHERE connector_id IS NULL")
    with op.batch_alter_table('charging_profiles') as batch:
        batch.alter_column('connector_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('certificate_signing_requests') as batch:
        batch.drop_column('certificate')
        batch.drop_column('reason')
        batch.drop_column('status')
    with op.batch_alter_table('charge_points') as batch:
        batch.drop_column('previous_password_hash')
    with op.batch_alter_table('data_transfer_messages') as batch:
        batch.drop_column('response_data')
        batch.drop_column('initiated_by')
