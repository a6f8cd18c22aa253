"""EventBridge PutTargets refuses, as AWS does, targets and dead-letter queues outside what a rule
in this account and Region can use (see events_ext.py for the sources)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import MANAGEMENT

OTHER = "222222222222"
REGION = "us-east-1"
FAR = "eu-west-1"
ROLE = f"arn:aws:iam::{MANAGEMENT}:role/guardform-events"
RULE = "guardform-test"
PATTERN = '{"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}'


def sns(region=REGION, account=MANAGEMENT):
    return f"arn:aws:sns:{region}:{account}:soc"


def sqs(region=REGION, account=MANAGEMENT, name="soc-queue"):
    return f"arn:aws:sqs:{region}:{account}:{name}"


def lam(region=REGION, account=MANAGEMENT):
    return f"arn:aws:lambda:{region}:{account}:function:guardform-responder"


def bus(region=REGION, account=MANAGEMENT, name="default"):
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def events(clients):
    ev = clients("events", region=REGION)
    ev.put_rule(Name=RULE, EventPattern=PATTERN)
    return ev


def put(events, **target):
    target.setdefault("Id", "t")
    return events.put_targets(Rule=RULE, Targets=[target])


def targets(events) -> dict[str, dict]:
    return {t["Id"]: t for t in events.list_targets_by_rule(Rule=RULE)["Targets"]}


def refused(events, **target) -> tuple[str, str, int]:
    before = targets(events)
    with pytest.raises(ClientError) as ei:
        put(events, **target)
    assert targets(events) == before, "a refused call stores nothing"
    return err(ei)


def test_events_extension_is_hooked_in(endpoint):
    import os
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    import events_ext
    import server
    from moto.events.models import EventsBackend

    server.install()
    assert events_ext.installed()
    assert getattr(EventsBackend.put_targets, "_gf_wrapped", False)


# ---------------------------------------------------------------- accepted


def test_same_region_sns_sqs_lambda_targets_with_a_same_region_dlq(events):
    dlq = {"Arn": sqs(name="guardform-dlq")}
    for target_id, arn in [("sns", sns()), ("sqs", sqs()), ("lambda", lam())]:
        out = put(events, Id=target_id, Arn=arn, DeadLetterConfig=dlq,
                  RetryPolicy={"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600})
        assert (out["FailedEntryCount"], out["FailedEntries"]) == (0, [])
    got = targets(events)
    assert {k: v["Arn"] for k, v in got.items()} == {"sns": sns(), "sqs": sqs(), "lambda": lam()}
    assert all(v["DeadLetterConfig"] == dlq for v in got.values())


def test_event_bus_in_another_account_or_region_with_a_role(events):
    put(events, Id="other-account", Arn=bus(account=OTHER), RoleArn=ROLE)
    put(events, Id="other-region", Arn=bus(region=FAR), RoleArn=ROLE)
    put(events, Id="both", Arn=bus(region=FAR, account=OTHER, name="central"), RoleArn=ROLE)
    assert set(targets(events)) == {"other-account", "other-region", "both"}


def test_same_account_same_region_event_bus_without_a_role(events):
    # Not one of the cases AWS documents as needing RoleArn here; left as stock moto has it.
    put(events, Arn=bus(name="custom"))
    assert targets(events)["t"]["Arn"] == bus(name="custom")


def test_service_in_another_account_of_the_same_region_with_a_role(events):
    for target_id, arn in [("sns", sns(account=OTHER)), ("sqs", sqs(account=OTHER)),
                           ("lambda", lam(account=OTHER))]:
        put(events, Id=target_id, Arn=arn, RoleArn=ROLE)
    assert len(targets(events)) == 3


def test_dead_letter_queue_in_another_account_of_the_same_region(events):
    put(events, Arn=sns(), DeadLetterConfig={"Arn": sqs(account=OTHER, name="central-dlq")})
    assert targets(events)["t"]["DeadLetterConfig"]["Arn"] == sqs(account=OTHER, name="central-dlq")


def test_rules_in_other_regions_take_their_own_region_targets(clients):
    ev = clients("events", region=FAR)
    ev.put_rule(Name=RULE, EventPattern=PATTERN)
    put(ev, Arn=sns(region=FAR), DeadLetterConfig={"Arn": sqs(region=FAR)})
    with pytest.raises(ClientError) as ei:  # the us-east-1 topic is now the far one
        put(ev, Arn=sns(), DeadLetterConfig={"Arn": sqs(region=FAR)})
    assert err(ei) == ("ValidationException", "Cross-region api call is not allowed.", 400)


# ---------------------------------------------------------------- refused


@pytest.mark.parametrize("arn", [sns(region=FAR), sqs(region=FAR), lam(region=FAR),
                                 sns(region=FAR, account=OTHER)])
def test_service_target_in_another_region(events, arn):
    assert refused(events, Arn=arn) == ("ValidationException", "Cross-region api call is not allowed.", 400)
    # A role does not make it a valid target: only event buses cross Regions.
    assert refused(events, Arn=arn, RoleArn=ROLE)[0] == "ValidationException"


@pytest.mark.parametrize("arn", [bus(account=OTHER), bus(region=FAR), bus(region=FAR, account=OTHER)])
def test_event_bus_in_another_account_or_region_without_a_role(events, arn):
    assert refused(events, Arn=arn) == ("ValidationException", f"RoleArn is required for target {arn}.", 400)


@pytest.mark.parametrize("arn", [sns(account=OTHER), sqs(account=OTHER), lam(account=OTHER)])
def test_service_in_another_account_without_a_role(events, arn):
    assert refused(events, Arn=arn) == ("ValidationException", f"RoleArn is required for target {arn}.", 400)


def test_service_that_cannot_be_a_cross_account_target(events):
    arn = f"arn:aws:states:{REGION}:{OTHER}:stateMachine:respond"
    assert refused(events, Arn=arn, RoleArn=ROLE) == (
        "AccessDeniedException",
        f"Access to the resource {arn} is denied. Reason: Adding cross-account target is not permitted.", 400)


def test_dead_letter_queue_in_another_region(events):
    dlq = sqs(region=FAR, name="guardform-dlq")
    code, message, status = refused(events, Arn=sns(), DeadLetterConfig={"Arn": dlq})
    assert (code, status) == ("ValidationException", 400)
    assert dlq in message and "same Region as the rule (us-east-1)" in message
    # also with another account, and for an otherwise valid cross-account bus target
    assert refused(events, Arn=bus(account=OTHER), RoleArn=ROLE,
                   DeadLetterConfig={"Arn": sqs(region=FAR, account=OTHER)})[0] == "ValidationException"


@pytest.mark.parametrize("dlq", [sns(), sqs(name="dlq.fifo")])
def test_dead_letter_queue_must_be_a_standard_sqs_queue(events, dlq):
    code, message, status = refused(events, Arn=lam(), DeadLetterConfig={"Arn": dlq})
    assert (code, status) == ("ValidationException", 400)
    assert dlq in message


def test_one_bad_target_refuses_the_whole_call(events):
    with pytest.raises(ClientError) as ei:
        events.put_targets(Rule=RULE, Targets=[{"Id": "ok", "Arn": sns()},
                                               {"Id": "bad", "Arn": sns(region=FAR)}])
    assert err(ei)[0] == "ValidationException"
    assert targets(events) == {}
