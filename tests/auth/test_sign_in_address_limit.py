"""Password spraying: one address trying one password on many emails is stopped, others are not."""

from tests.conftest import PASSWORD

SPRAYER = {"REMOTE_ADDR": "198.51.100.23"}
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


def test_failed_sign_ins_from_one_address_are_limited_across_emails(app, client, make_user):
    emails = [f"sprayed-{n}@example.com" for n in range(15)]

    answers = [
        client.post(
            "/login", data={"email": email, "password": "Summer2026!"}, environ_base=SPRAYER
        )
        for email in emails
    ]

    codes = [answer.status_code for answer in answers]
    assert codes == [200] * 12 + [429] * 3
    page = answers[-1].get_data(as_text=True)
    assert answers[-1].mimetype == "text/html"
    assert "429 · Too Many Requests" in page
    assert "Too many failed sign-ins from your network address" in page
    assert "Back to the dashboard" in page


def test_another_address_still_signs_in(app, client, make_user):
    email = make_user("hq")
    for n in range(12):
        client.post(
            "/login",
            data={"email": f"sprayed-{n}@example.com", "password": "x"},
            environ_base=SPRAYER,
        )
    with app.app_context():
        other = app.test_client()
        elsewhere = other.post(
            "/login", data={"email": email, "password": PASSWORD}, environ_base=ELSEWHERE
        )
    sprayer = client.post(
        "/login", data={"email": email, "password": PASSWORD}, environ_base=SPRAYER
    )

    assert elsewhere.status_code == 302
    assert sprayer.status_code == 429


def test_the_address_limit_is_configurable(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_ADDRESS_LIMIT", "3 per minute")

    codes = [
        client.post(
            "/login",
            data={"email": f"user-{n}@example.com", "password": "x"},
            environ_base=SPRAYER,
        ).status_code
        for n in range(4)
    ]

    assert codes == [200, 200, 200, 429]
