from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dashboards.services import DEMO_PASSWORD
from tests.dashboards.conftest import client_for


@pytest.mark.django_db
def test_login_page_renders_the_branded_form_for_anonymous_visitors(client: Client) -> None:
    response = client.get(reverse("login"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "lead<strong>qual</strong>" in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "csrfmiddlewaretoken" in html
    assert "vendor/htmx.min.js" in html
    assert "css/app.css" in html


@pytest.mark.django_db
def test_wrong_password_shows_an_error_and_keeps_the_username(
    client: Client, demo_users: dict[str, User]
) -> None:
    response = client.post(reverse("login"), {"username": "sdr", "password": "not-it"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Please enter a correct username and password" in html
    assert 'role="alert"' in html
    assert 'value="sdr"' in html
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "full_name"),
    [
        ("sdr", "Sam Rivera"),
        ("manager", "Morgan Lee"),
        ("revops", "Riley Chen"),
        ("admin", "Alex Admin"),
    ],
)
def test_each_demo_login_signs_in_with_the_demo_password(
    client: Client, demo_users: dict[str, User], username: str, full_name: str
) -> None:
    response = client.post(reverse("login"), {"username": username, "password": DEMO_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboards:home")
    home = client.get(response["Location"])
    assert home.status_code == 200
    assert full_name in home.content.decode()


@pytest.mark.django_db
def test_login_returns_to_the_page_asked_for(client: Client, demo_users: dict[str, User]) -> None:
    response = client.post(
        reverse("login"), {"username": "manager", "password": DEMO_PASSWORD, "next": "/admin/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "login_path"),
    # The admin index has its own login page; every other page, admin pages included, is
    # guarded by LoginRequiredMiddleware and goes to the site's.
    [("/", "/login/"), ("/admin/", "/admin/login/"), ("/admin/accounts/lead/", "/login/")],
)
def test_anonymous_requests_are_sent_to_a_login_page(
    client: Client, path: str, login_path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{login_path}?next=")


@pytest.mark.django_db
def test_the_nav_signs_out_with_a_post_form(demo_users: dict[str, User]) -> None:
    html = client_for(demo_users["sdr"]).get("/").content.decode()

    assert f'<form method="post" action="{reverse("logout")}"' in html
    assert "Sign out" in html


@pytest.mark.django_db
def test_logout_by_post_ends_the_session_and_returns_to_login(demo_users: dict[str, User]) -> None:
    client = client_for(demo_users["sdr"])

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_logout_by_get_is_refused_and_keeps_the_session(demo_users: dict[str, User]) -> None:
    client = client_for(demo_users["sdr"])

    assert client.get(reverse("logout")).status_code == 405
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_an_sdr_cannot_open_the_admin(demo_users: dict[str, User]) -> None:
    client = client_for(demo_users["sdr"])

    for path in ("/admin/", "/admin/routing/routingrule/", "/admin/accounts/lead/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/"), path


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["manager", "revops"])
def test_managers_and_revops_can_open_the_admin(demo_users: dict[str, User], username: str) -> None:
    response = client_for(demo_users[username]).get("/admin/")

    assert response.status_code == 200
    assert "leadqual administration" in response.content.decode()
