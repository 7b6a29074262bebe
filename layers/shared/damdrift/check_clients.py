"""The logged-in DX clients a check's steps use: the publisher's, and a subscriber's own DAM API.

Each checks the host, ports, CA bundle and secret against the stack's lists before any credential is
loaded, then takes the warm Lambda's cached client (:mod:`damdrift.dx.sessions`)."""

from __future__ import annotations

from damdrift.credentials import load_credentials
from damdrift.dx.client import DxClient
from damdrift.dx.sessions import client_for
from damdrift.settings import DxAccessSettings
from damdrift.state import CheckContext, SubscriberTask
from damdrift.subscriber_dam import subscriber_dam


def dx_client(check: CheckContext, settings: DxAccessSettings) -> DxClient:
    """The publisher's client; refuses a host the stack's credentials are not for (every step checks)."""
    settings.permit(check.publisher, "publisher", check.credentials_secret)
    return client_for(check.publisher, load_credentials(check.credentials_secret), settings.client_tuning())


def subscriber_dam_client(task: SubscriberTask, settings: DxAccessSettings) -> DxClient | None:
    """A client for the subscriber's own DAM API (its own login), or None when the input gave none.

    The connection is read from the drift check's input (:mod:`damdrift.subscriber_dam`)."""
    if not task.subscriber.own_dam:
        return None
    dam, secret = subscriber_dam(task.check, task.subscriber.subscriber_id)
    settings.permit(dam, f"subscriberOptions.{task.subscriber.subscriber_id}.dam", secret)
    return client_for(dam, load_credentials(secret), settings.client_tuning())
