"""The dashboard's typed errors: each refusal of the HTTP side has a kind, counted by it."""

from __future__ import annotations

from alphapulse.errors import AlphaPulseError


class DashboardError(AlphaPulseError):
    """A request the dashboard refuses; ``status`` is the HTTP status it answers with."""

    kind = "dashboard"
    status = 400


class BadToken(DashboardError):
    """Missing or wrong ``Authorization: Bearer`` token."""

    kind = "bad_token"
    status = 401


class BadOrigin(DashboardError):
    """A state-changing request from another origin than the dashboard's own."""

    kind = "bad_origin"
    status = 403


class BadBody(DashboardError):
    """A body that is not the JSON object the endpoint takes."""

    kind = "bad_body"
    status = 400


class BodyTooLarge(DashboardError):
    """A body over the endpoint's limit."""

    kind = "body_too_large"
    status = 413


class BadMethod(DashboardError):
    """A method the path does not take."""

    kind = "bad_method"
    status = 405


class NotFound(DashboardError):
    """A path the dashboard does not serve."""

    kind = "not_found"
    status = 404


class RiskNoAnswer(DashboardError):
    """The risk node did not answer a stop or resume in time."""

    kind = "no_answer"
    status = 502


class ReaderDied(DashboardError):
    """A mesh reader thread ended on an error (the command exits 1; supervisord restarts it)."""

    kind = "reader_died"
    status = 500
