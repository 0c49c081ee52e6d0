"""The operation documentation a resource's standard endpoints are registered with."""

from portal.core.resources import view_docs


def test_view_docs_splits_the_view_text_and_each_operation():
    head, operations = view_docs(
        """One schedule.

        GET: Show a schedule.
        PATCH: Change a schedule.

            A changed recurrence sets its next run anew:
            one interval from now.
        DELETE: Delete a schedule.
        """
    )

    assert head == "One schedule."
    assert operations == {
        "get": "Show a schedule.",
        "patch": "Change a schedule.\n\nA changed recurrence sets its next run anew:\n"
        "one interval from now.",
        "delete": "Delete a schedule.",
    }
