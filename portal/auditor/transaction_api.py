"""JSON API of received transactions for auditors: read and review, never edit or delete.

The device upload is `portal.device_api.uploads`; this is the HQ side of the same rows.
"""

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from portal.auditor import bulk_review, reviews
from portal.auditor import transaction_queries as queries
from portal.auditor.anomaly_schemas import ReviewSchema, TransactionReviewRequestSchema
from portal.auditor.bulk_schemas import BulkReviewResultSchema, TransactionBulkReviewSchema
from portal.auditor.models import SUBJECT_TRANSACTION
from portal.auditor.transaction_schemas import (
    ReceivedTransactionDetailSchema,
    ReceivedTransactionListArgsSchema,
    ReceivedTransactionPageSchema,
)
from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint, errors
from portal.core.extensions import db
from portal.core.pagination import keyset_page_desc
from portal.transactions.models import PosTransaction

blp = api_blueprint(
    "transactions_auditor_api",
    __name__,
    "/transactions",
    "Received transactions for auditors: filter, read with their anomalies, and review.",
)


@blp.route("")
class Transactions(MethodView):
    """The received transactions, newest first."""

    @api_permission_required(Permission.READ_TRANSACTIONS)
    @blp.arguments(ReceivedTransactionListArgsSchema, location="query")
    @blp.response(200, ReceivedTransactionPageSchema)
    @errors(blp, 401, 403)
    def get(self, args):
        """List transactions newest first (by created_at, then sequence), filtered; keyset pages."""
        stmt = queries.transactions_query(args).options(
            selectinload(PosTransaction.store), selectinload(PosTransaction.register)
        )
        items, next_cursor = keyset_page_desc(
            stmt,
            queries.LIST_ORDER,
            args.get("cursor"),
            args["limit"],
        )
        return {"items": items, "next": next_cursor}


@blp.route("/review")
class TransactionsReview(MethodView):
    """One verdict on many transactions."""

    @api_permission_required(Permission.REVIEW_TRANSACTIONS)
    @blp.arguments(TransactionBulkReviewSchema)
    @blp.response(200, BulkReviewResultSchema)
    @errors(blp, 400, 401, 403, 404, 422)
    def post(self, args):
        """Review the transactions given by id, or all the filter matches; each on its own."""
        result = bulk_review.review(
            SUBJECT_TRANSACTION,
            args["status"],
            args["comment"],
            ids=args.get("ids"),
            filters=args.get("filter"),
            resolve_anomalies=args["resolve_anomalies"],
        )
        db.session.commit()
        return result


@blp.route("/<int:pos_transaction_id>")
class TransactionItem(MethodView):
    """One received transaction."""

    @api_permission_required(Permission.READ_TRANSACTIONS)
    @blp.response(200, ReceivedTransactionDetailSchema)
    @errors(blp, 401, 403, 404)
    def get(self, pos_transaction_id):
        """Show a transaction: lines, payments, anomalies, conflicts kept and review history."""
        return queries.transaction_detail(pos_transaction_id)


@blp.route("/<int:pos_transaction_id>/review")
class TransactionReview(MethodView):
    """An auditor's verdict on a transaction."""

    @api_permission_required(Permission.REVIEW_TRANSACTIONS)
    @blp.arguments(TransactionReviewRequestSchema)
    @blp.response(201, ReviewSchema)
    @errors(blp, 400, 401, 403, 404, 422)
    def post(self, args, pos_transaction_id):
        """Mark a transaction reviewed, flagged or resolved, with a comment."""
        entry = reviews.review(
            SUBJECT_TRANSACTION,
            pos_transaction_id,
            args["status"],
            args["comment"],
            resolve_anomalies=args["resolve_anomalies"],
        )
        db.session.commit()
        return entry
