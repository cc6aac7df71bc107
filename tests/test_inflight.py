"""How many encoder requests live recognition keeps in flight (actionrec.pipeline.inflight).

The limit on its own, from scripted completion times (no clock, no OpenVINO). In a live recognizer
on real requests: tests/test_live.py ("the in-flight limit").
"""

from __future__ import annotations

import pytest

from actionrec.pipeline.inflight import InFlightLimit


def test_before_any_completion_the_limit_is_its_start():
    assert InFlightLimit().limit == 2
    assert InFlightLimit(start=1, cap=3).limit == 1
    assert InFlightLimit(start=4, cap=4).limit == 4  # the limits themselves are valid starts
    assert InFlightLimit(start=1, cap=1).limit == 1
    assert InFlightLimit().service_s is None


@pytest.mark.parametrize(
    ("service_s", "expected"),
    [(0.01, 4), (0.05, 4), (0.055, 3), (0.066, 3), (0.067, 2), (0.1, 2), (0.11, 1), (0.5, 1)],
)
def test_the_limit_is_how_many_service_times_fit_the_budget_between_1_and_the_cap(service_s, expected):
    """budget 0.2 s: 0.05 s fits 4 times (the cap), 0.066 three times, 0.1 twice, 0.11 once (never 0)."""
    limit = InFlightLimit(budget_s=0.2, cap=4)
    t = 0.0
    for _ in range(20):  # one request at a time, each started when the previous ended
        limit.completed(started_s=t, done_s=t + service_s)
        t += service_s
    assert limit.service_s == pytest.approx(service_s)
    assert limit.limit == expected


def test_a_request_that_waited_behind_another_counts_only_its_own_service_time():
    """Three requests started at once on one stream end 55, 110, 165 ms later: each served 55 ms."""
    limit = InFlightLimit(budget_s=0.2)
    for i in range(3):
        limit.completed(started_s=0.0, done_s=0.055 * (i + 1))
    assert limit.service_s == pytest.approx(0.055)
    assert limit.limit == 3


def test_an_idle_gap_between_requests_is_not_service_time():
    limit = InFlightLimit(budget_s=0.2)
    limit.completed(started_s=0.0, done_s=0.03)
    limit.completed(started_s=1.0, done_s=1.03)  # started long after the previous one ended
    assert limit.service_s == pytest.approx(0.03)


def test_the_service_time_is_the_mean_of_the_last_16_requests():
    """A slow start (0.3 s each: limit 1) is forgotten once 16 fast requests followed."""
    limit = InFlightLimit(budget_s=0.2, cap=4)
    t = 0.0
    for service_s in [0.3] * 5 + [0.04] * 15:
        limit.completed(started_s=t, done_s=t + service_s)
        t += service_s
    assert limit.service_s == pytest.approx((0.3 + 15 * 0.04) / 16)
    limit.completed(started_s=t, done_s=t + 0.04)
    assert limit.service_s == pytest.approx(0.04) and limit.limit == 4


def test_a_completion_out_of_order_keeps_the_latest_end_as_the_reference():
    """A request ending before an already-recorded later one: neither negative nor a new reference."""
    limit = InFlightLimit()
    limit.completed(started_s=0.0, done_s=0.1)
    limit.completed(started_s=0.0, done_s=0.05)  # ended earlier than the one already seen
    limit.completed(started_s=0.0, done_s=0.15)
    assert list(limit._service_s) == [pytest.approx(0.1), 0.0, pytest.approx(0.05)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget_s": 0}, r"^budget_s must be > 0 seconds, got 0$"),
        ({"start": 0}, r"^need 1 <= start <= cap requests, got start=0, cap=4$"),
        ({"start": 5}, r"^need 1 <= start <= cap requests, got start=5, cap=4$"),
        ({"cap": 1}, r"^need 1 <= start <= cap requests, got start=2, cap=1$"),
    ],
)
def test_bad_settings_are_refused_with_what_is_valid(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InFlightLimit(**kwargs)
