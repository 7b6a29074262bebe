"""A local check's progress says what the state machine does after a failed step, from its own Retry."""

import re

from damdrift_cli.local import definitions
from damdrift_cli.local.retries import RetryTracker, retriers_by_function

STACK = "dam-drift-local"


def deployed() -> list[str]:
    """The shipped definitions, function ARNs substituted, as JSON, as the local stack deploys them."""
    return [
        definitions.load_json(
            path,
            {
                name: f"arn:aws:lambda:us-east-1:123456789012:function:{STACK}-{name.removesuffix('Arn')}"
                for name in re.findall(r"\$\{(\w+FunctionArn)\}", path.read_text(encoding="utf-8"))
            },
        )
        for path in sorted(definitions.SHIPPED_DIR.glob("*.asl.json"))
    ]


def test_a_failed_login_says_it_will_be_retried_and_when_then_when_it_gives_up() -> None:
    retriers = retriers_by_function(deployed())
    authenticate = "dam-drift-local-AuthenticateFunction"
    [policy] = [r for r in retriers[authenticate] if r.matches("DxUnavailable")][:1]
    tracker = RetryTracker(retriers)

    said = [tracker.failed(authenticate, "", "DxUnavailable") for _ in range(policy.max_attempts + 1)]

    assert said[0] == f"retrying in up to {policy.wait(1):g} s (1/{policy.max_attempts})"
    assert said[1] == f"retrying in up to {policy.wait(2):g} s (2/{policy.max_attempts})"
    assert said[-1] == f"giving up after {policy.max_attempts} retries"


def test_an_error_no_retrier_names_is_not_retried_and_a_success_resets_the_count() -> None:
    retriers = retriers_by_function(deployed())
    trigger = "dam-drift-local-TriggerMismatchFunction"
    tracker = RetryTracker(retriers)
    assert tracker.failed(trigger, "sub-1", "InvalidInput") == "no retry for InvalidInput"
    first = tracker.failed(trigger, "sub-1", "Lambda.Unknown")
    tracker.succeeded(trigger, "sub-1")
    assert tracker.failed(trigger, "sub-1", "Lambda.Unknown") == first
