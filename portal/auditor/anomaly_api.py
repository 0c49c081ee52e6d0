"""JSON API of the anomalies HQ found, for auditors: list them and record reviews."""

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from portal.auditor import anomaly_queries as queries
from portal.auditor import bulk_review, reviews
from portal.auditor.anomaly_schemas import (
    AnomalyListArgsSchema,
    AnomalyPageSchema,
    ReviewRequestSchema,
    ReviewSchema,
)
from portal.auditor.bulk_schemas import AnomalyBulkReviewSchema, BulkReviewResultSchema
from portal.auditor.models import SUBJECT_ANOMALY, Anomaly
from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint, errors
from portal.core.extensions import db
from portal.core.pagination import keyset_page_desc

blp = api_blueprint(
    "anomalies_api",
    __name__,
    "/anomalies",
    "Anomalies: what the rules found in uploaded transactions, and auditors' reviews of them.",
)


@blp.route("")
class Anomalies(MethodView):
    """The anomalies, newest first."""

    @api_permission_required(Permission.READ_TRANSACTIONS)
    @blp.arguments(AnomalyListArgsSchema, location="query")
    @blp.response(200, AnomalyPageSchema)
    @errors(blp, 401, 403)
    def get(self, args):
        """List anomalies newest first, filtered by kind, store, register, review, cleared."""
        stmt = queries.anomalies_query(args).options(
            selectinload(Anomaly.store), selectinload(Anomaly.register)
        )
        items, next_cursor = keyset_page_desc(
            stmt, (Anomaly.detected_at, Anomaly.id), args.get("cursor"), args["limit"]
        )
        return {"items": items, "next": next_cursor}


@blp.route("/review")
class AnomaliesReview(MethodView):
    """One verdict on many anomalies."""

    @api_permission_required(Permission.REVIEW_TRANSACTIONS)
    @blp.arguments(AnomalyBulkReviewSchema)
    @blp.response(200, BulkReviewResultSchema)
    @errors(blp, 400, 401, 403, 404, 422)
    def post(self, args):
        """Review the anomalies given by id, or all the filter matches; each on its own."""
        result = bulk_review.review(
            SUBJECT_ANOMALY,
            args["status"],
            args["comment"],
            ids=args.get("ids"),
            filters=args.get("filter"),
        )
        db.session.commit()
        return result


@blp.route("/<int:anomaly_id>/review")
class AnomalyReview(MethodView):
    """An auditor's verdict on an anomaly."""

    @api_permission_required(Permission.REVIEW_TRANSACTIONS)
    @blp.arguments(ReviewRequestSchema)
    @blp.response(201, ReviewSchema)
    @errors(blp, 400, 401, 403, 404, 422)
    def post(self, args, anomaly_id):
        """Mark an anomaly reviewed, flagged or resolved, with a comment."""
        entry = reviews.review(SUBJECT_ANOMALY, anomaly_id, args["status"], args["comment"])
        db.session.commit()
        return entry
