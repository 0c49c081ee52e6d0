"""Field errors read the same whoever found them: one message per dotted path."""

from portal.core.errors import flat_fields


def test_marshmallow_nesting_and_lists_become_dotted_paths_with_one_message():
    nested = {
        "channel_database": ["Unknown field."],
        "scopes": {
            0: {"priority": ["Unknown field."], "name": ["Missing data for required field."]}
        },
    }
    assert flat_fields(nested) == {
        "channel_database": "Unknown field.",
        "scopes.0.priority": "Unknown field.",
        "scopes.0.name": "Required.",
    }


def test_service_messages_and_other_values_are_left_as_they_are():
    fields = {"scopes.1.tables": "Unknown table 'x'.", "must_apply_first": 42}
    assert flat_fields(fields) == fields
