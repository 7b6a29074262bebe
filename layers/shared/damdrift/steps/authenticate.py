"""Step 1: validate the execution input, prove the credentials work, and decide whom to check.

Bad input and bad credentials end the execution here, before any subscriber is touched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from damdrift.check_clients import dx_client
from damdrift.dx.client import DxClient
from damdrift.dx.connection import DxConnection
from damdrift.errors import InvalidInput
from damdrift.execution_input import CheckInput
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.settings import AuthenticateSettings, RemediationLimits
from damdrift.state import CheckContext, CheckPlan, SubscriberRef
from damdrift.validation import parse_input


class AuthenticateRequest(BaseModel):
    """What the state machine hands the first step: the raw input plus the execution's identity (the
    definition's ``Parameters``, in camelCase)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    input: Any
    execution: str
    execution_arn: str
    start_time: datetime | None = None


def plan_check(
    request: AuthenticateRequest, settings: AuthenticateSettings, now: datetime
) -> tuple[CheckContext, CheckInput]:
    check_input = parse_input(CheckInput, request.input, "execution input")
    within_ceiling(check_input, settings)
    secret = check_input.credentials_secret or settings.credentials_secret
    if not secret:
        raise InvalidInput(
            "invalid execution input: credentialsSecret: required field is missing "
            "(and the function has no CREDENTIALS_SECRET default)"
        )
    # Before any request or secret read: each secret goes only to the DX hosts and ports it is for.
    settings.permit(check_input.publisher, "publisher", secret)
    for subscriber_id, options in check_input.subscriber_options.items():
        if options.dam is not None:
            dam_secret = options.credentials_secret or secret
            settings.permit(options.dam, f"subscriberOptions.{subscriber_id}.dam", dam_secret)
    check = CheckContext(
        execution=request.execution,
        execution_arn=request.execution_arn,
        publisher=check_input.publisher,
        publisher_id=check_input.publisher.publisher_id,
        credentials_secret=secret,
        poll=check_input.poll,
        busy_policy=check_input.busy_policy,
        notify_policy=check_input.notify_policy,
        notices=check_input.notices,
        max_concurrency=check_input.max_concurrency,
        started_at=request.start_time or now,
        remediation=check_input.remediation,
    )
    return check, check_input


def authenticate(request: AuthenticateRequest, settings: AuthenticateSettings, now: datetime) -> CheckPlan:
    check, check_input = plan_check(request, settings, now)
    warn_if_unprotected(check.publisher)
    client = dx_client(check, settings)
    client.login()
    subscribers = [
        with_options(ref, check_input, settings)
        for ref in resolve_subscribers(client, check_input.subscriber_ids)
    ]
    metrics.add_metric(name="SubscribersToCheck", unit=MetricUnit.Count, value=len(subscribers))
    return CheckPlan(check=check, subscribers=subscribers)


def warn_if_unprotected(publisher: DxConnection) -> None:
    """Once per check (the DX client warns too, but it is reused by warm Lambdas): the password travels
    unprotected when TLS is not verified, or not used at all."""
    if publisher.protocol == "http":
        logger.warning(
            "dxProtocol is http: the DX password and session cookie cross the network unencrypted",
            extra={"hostname": publisher.hostname},
        )
    elif not publisher.verify_tls:
        logger.warning(
            "TLS certificate verification is OFF (verifyTls=false): anyone on the path can read the DX "
            "credentials; use caBundle for a private CA instead",
            extra={"hostname": publisher.hostname},
        )


def resolve_subscribers(client: DxClient, requested: list[str]) -> list[SubscriberRef]:
    """Every registered subscriber when none are named; otherwise the named ones, registered or not.

    An unknown id is kept (``registered: false``) so that it ends as its own ERRORED outcome instead of
    silently vanishing from the report or stopping the others.
    """
    registered = {s.id: s for s in client.list_subscribers()}
    if not requested:
        logger.info("checking every registered subscriber", extra={"count": len(registered)})
        return [SubscriberRef(subscriber_id=s.id, target_host=s.target_host) for s in registered.values()]
    unknown = [i for i in requested if i not in registered]
    if unknown:
        logger.warning("subscribers not registered on the publisher", extra={"subscriber_ids": unknown})
    return [
        SubscriberRef(
            subscriber_id=i,
            target_host=registered[i].target_host if i in registered else None,
            registered=i in registered,
        )
        for i in requested
    ]


def within_ceiling(check_input: CheckInput, limits: RemediationLimits) -> None:
    """Refuses an input that asks for more remediation than the stack allows (``MaxRemediation``)."""
    asked = [("remediate:", check_input.remediate)] + [
        (f"subscriberOptions.{subscriber_id}.remediate:", options.remediate)
        for subscriber_id, options in check_input.subscriber_options.items()
        if options.remediate is not None
    ]
    for field, mode in asked:
        reason = limits.above_ceiling(mode, field)
        if reason is not None:
            raise InvalidInput(f"invalid execution input: {reason}")


def with_options(ref: SubscriberRef, check_input: CheckInput, limits: RemediationLimits) -> SubscriberRef:
    """The subscriber with its remediation mode from the input's options, whether it has its own DAM
    connection there (the connection is not copied: see ``SubscriberRef.own_dam``), and whether it is
    two-way staging (the stack's list, or the input adding it)."""
    options = check_input.options_for(ref.subscriber_id)
    return ref.model_copy(
        update={
            "remediate": options.remediate,
            "own_dam": options.dam is not None,
            "two_way_staging": options.two_way_staging
            or limits.is_two_way(ref.subscriber_id, ref.target_host),
        }
    )
