"""The contact route's own throttle, the notification topic and the alarms, as CloudFormation
will see them: template.yaml translated offline by the SAM translator that ships with SAM CLI
(tests/sam/translated.py), its conditions evaluated.

Each alarm is checked against the metric it watches: for the function's own counters, the
namespace, name and dimensions the code really emits (captured from a request through the
app); for AWS's metrics, the names and dimensions AWS documents (cited in template.yaml).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.aws import metrics
from app.settings import Settings
from tests.sam.translated import load, translate

TOPIC = {"Ref": "AlarmTopic"}
FUNCTION = {"Ref": "ApiFunction"}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return translate({"NotificationEmail": "owner@example.com"}).resources


def _alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def _watched(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric-math queries."""
    if "MetricName" in alarm:
        return [{k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions")}]
    return [q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q]


# -- the throttled contact route ------------------------------------------------------------


def test_post_contact_is_its_own_route_throttled_below_the_rest(
    resources: dict[str, Any],
) -> None:
    body = resources["HttpApi"]["Properties"]["Body"]
    contact = body["paths"]["/contact"]
    assert set(contact) == {"post"}
    assert "x-amazon-apigateway-integration" in contact["post"]
    assert "$default" in body["paths"]  # everything else still goes to the default route

    stage = resources["HttpApiStage"]["Properties"]
    assert stage["RouteSettings"] == {
        "POST /contact": {
            "ThrottlingRateLimit": {"Ref": "ContactThrottlingRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ContactThrottlingBurstLimit"},
        }
    }
    defaults = {name: p.get("Default") for name, p in load()["Parameters"].items()}
    assert defaults["ContactThrottlingRateLimit"] < defaults["ThrottlingRateLimit"]
    assert defaults["ContactThrottlingBurstLimit"] < defaults["ThrottlingBurstLimit"]


def test_the_per_client_limit_reaches_the_setting_it_names(resources: dict[str, Any]) -> None:
    variables = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CONTACT_RATE_LIMIT"] == {"Ref": "ContactMessagesPerClientPerHour"}
    assert "contact_rate_limit" in Settings.model_fields


# -- the topic and its subscription -----------------------------------------------------------


def test_an_optional_email_subscription_to_the_alarm_topic(resources: dict[str, Any]) -> None:
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Type"] == "AWS::SNS::Subscription"
    assert subscription["Condition"] == "HasNotificationEmail"
    assert subscription["Properties"] == {
        "TopicArn": TOPIC,
        "Protocol": "email",
        "Endpoint": {"Ref": "NotificationEmail"},
    }
    # Without an address: the topic and its alarms, no subscription.
    assert load()["Parameters"]["NotificationEmail"]["Default"] == ""
    without = translate().resources
    assert "AlarmEmailSubscription" not in without
    assert without["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert len(_alarms(without)) == len(_alarms(resources))


def test_every_alarm_notifies_the_topic(resources: dict[str, Any]) -> None:
    alarms = _alarms(resources)
    assert len(alarms) == 6
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [TOPIC], name


# -- each alarm on a metric that exists -------------------------------------------------------


def test_alarms_on_the_functions_counters_match_what_it_emits(
    resources: dict[str, Any], make_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # The function name is what Lambda sets in AWS_LAMBDA_FUNCTION_NAME, i.e. the Ref of the
    # function; a closed port makes the database unavailable.
    up = make_client(aws_lambda_function_name="portfolio-ApiFunction-1")
    down = make_client(
        database_url="postgresql+psycopg2://u@127.0.0.1:9/db",
        aws_lambda_function_name="portfolio-ApiFunction-1",
    )
    assert up.post("/contact", {"name": "A", "email": "a@b.co", "message": "hi"}).status == 202
    assert down.get("/projects").status == 503
    emitted = {}
    for line in capsys.readouterr().out.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            directive = document["_aws"]["CloudWatchMetrics"][0]
            for metric in directive["Metrics"]:
                emitted[metric["Name"]] = {
                    "Namespace": directive["Namespace"],
                    "MetricName": metric["Name"],
                    "Dimensions": [
                        {"Name": key, "Value": document[key]} for key in directive["Dimensions"][0]
                    ],
                }
    assert set(emitted) == {metrics.CONTACT_MESSAGE_RECEIVED, metrics.DATABASE_UNAVAILABLE}

    alarms = _alarms(resources)
    for name, metric in {
        "ContactMessageAlarm": metrics.CONTACT_MESSAGE_RECEIVED,
        "DatabaseUnavailableAlarm": metrics.DATABASE_UNAVAILABLE,
    }.items():
        [watched] = _watched(alarms[name])
        expected = emitted[metric]
        assert watched["Namespace"] == expected["Namespace"] == metrics.NAMESPACE
        assert watched["MetricName"] == expected["MetricName"]
        # Same dimension names; the value is the function's name in both.
        assert [d["Name"] for d in watched["Dimensions"]] == [
            d["Name"] for d in expected["Dimensions"]
        ]
        assert watched["Dimensions"] == [{"Name": metrics.DIMENSION, "Value": FUNCTION}]
        assert expected["Dimensions"][0]["Value"] == "portfolio-ApiFunction-1"


@pytest.mark.parametrize(
    ("alarm", "namespace", "names", "dimension"),
    [
        (
            "Api5xxRateAlarm",
            "AWS/ApiGateway",
            {"5xx", "Count"},
            {"Name": "ApiId", "Value": {"Ref": "HttpApi"}},
        ),
        (
            "FunctionErrorsAlarm",
            "AWS/Lambda",
            {"Errors"},
            {"Name": "FunctionName", "Value": FUNCTION},
        ),
        (
            "FunctionThrottlesAlarm",
            "AWS/Lambda",
            {"Throttles"},
            {"Name": "FunctionName", "Value": FUNCTION},
        ),
        (
            "FunctionDurationAlarm",
            "AWS/Lambda",
            {"Duration"},
            {"Name": "FunctionName", "Value": FUNCTION},
        ),
    ],
)
def test_operational_alarms_watch_the_metrics_aws_emits(
    resources: dict[str, Any], alarm: str, namespace: str, names: set[str], dimension: Any
) -> None:
    watched = _watched(_alarms(resources)[alarm])
    assert {m["MetricName"] for m in watched} == names
    for metric in watched:
        assert (metric["Namespace"], metric["Dimensions"]) == (namespace, [dimension])


def test_the_duration_alarm_is_relative_to_the_configured_timeout(
    resources: dict[str, Any],
) -> None:
    alarm = _alarms(resources)["FunctionDurationAlarm"]
    [expression] = [q for q in alarm["Metrics"] if "Expression" in q]
    assert expression["Expression"] == {"Fn::Sub": "longest / (${Timeout} * 1000)"}
    assert resources["ApiFunction"]["Properties"]["Timeout"] == {"Ref": "Timeout"}
    assert 0.5 <= alarm["Threshold"] < 1
