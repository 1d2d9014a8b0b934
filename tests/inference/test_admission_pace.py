"""Admission's bound in seconds: the worker learns its pace (busy time per answered
request) and refuses what would wait longer than max_queue_s behind the requests it
holds. A clock of our own stands in for time."""

from __future__ import annotations

from inference.execution.admission import PACE_EVERY, Admission, AdmissionStats


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def serve(admission: Admission, clock: Clock, at_once: int, each_s: float, rounds: int) -> None:
    """`rounds` times: `at_once` requests admitted together, answered one by one
    `each_s` apart (a model that serves one request in `each_s`)."""
    for _ in range(rounds):
        for _ in range(at_once):
            assert admission.admit()
        for _ in range(at_once):
            clock.now += each_s
            admission.release()


def test_a_slow_worker_refuses_what_would_wait_past_max_queue_s() -> None:
    clock, stats = Clock(), AdmissionStats()
    admission = Admission(1000, stats, max_queue_s=1.05, floor=2, clock=clock)
    serve(admission, clock, at_once=4, each_s=0.1, rounds=PACE_EVERY // 4)
    assert admission.pace is not None and abs(admission.pace - 0.1) < 1e-9
    # 10 requests of 0.1 s are 1 s of work: the 12th would wait 1.1 s.
    admitted = sum(admission.admit() for _ in range(15))
    assert admitted == 11 and stats.refused == stats.refused_for_time == 4
    message = admission.refusal().message
    assert "about 1.1 s" in message and "100.0 ms each" in message
    assert "max_queue_s of 1.05 s" in message and "retry after 1 s" in message


def test_no_bound_in_time_before_the_pace_is_known_or_below_the_floor() -> None:
    clock = Clock()
    admission = Admission(50, AdmissionStats(), max_queue_s=0.001, floor=3, clock=clock)
    # Nothing measured yet: only the count limit applies.
    assert sum(admission.admit() for _ in range(60)) == 50
    assert "its limit" in admission.refusal().message
    for _ in range(50):
        clock.now += 0.01
        admission.release()
    assert admission.pace is not None
    # 10 ms a request against a bound of 1 ms: still the floor's 3 are admitted.
    assert sum(admission.admit() for _ in range(5)) == 3


def test_idle_time_is_not_counted_in_the_pace() -> None:
    clock = Clock()
    admission = Admission(1000, AdmissionStats(), max_queue_s=1.0, clock=clock)
    for _ in range(PACE_EVERY):
        assert admission.admit()
        clock.now += 0.002  # answered in 2 ms
        admission.release()
        clock.now += 5.0  # then nothing for 5 s
    assert admission.pace is not None and abs(admission.pace - 0.002) < 1e-9


def test_the_pace_follows_a_busy_stretch_that_never_ends() -> None:
    """At a steady load the worker is never idle: the pace is still measured every
    PACE_EVERY answers, as busy time per answer, the inverse of the throughput."""
    clock = Clock()
    admission = Admission(1000, AdmissionStats(), max_queue_s=10.0, clock=clock)
    for _ in range(8):
        assert admission.admit()
    for _ in range(3 * PACE_EVERY):
        clock.now += 0.005
        admission.release()
        assert admission.admit()  # the next arrives as one leaves: 8 in flight throughout
    assert admission.in_flight == 8
    assert admission.pace is not None and abs(admission.pace - 0.005) < 1e-9


def test_max_queue_s_zero_turns_the_bound_off() -> None:
    clock = Clock()
    admission = Admission(100, AdmissionStats(), max_queue_s=0.0, clock=clock)
    serve(admission, clock, at_once=4, each_s=1.0, rounds=PACE_EVERY // 4)
    assert sum(admission.admit() for _ in range(100)) == 100
