"""Execution segments: the shards' union is exactly the single-process schedule, and
each shard gets its fair share of every second to within one arrival."""

from __future__ import annotations

import math
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from yamlload.plan.ir import Phase
from yamlload.schedule.arrivals import Segment, schedule


@st.composite
def phase_lists(draw: st.DrawFn) -> list[Phase]:
    phases = []
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(["rate", "ramp", "count", "pause", "users", "poisson"]))
        duration = float(draw(st.integers(min_value=1, max_value=12)))
        if kind == "rate":
            phase = Phase(
                index,
                "p",
                "rate",
                duration,
                arrival_rate=draw(st.floats(min_value=0.1, max_value=60)),
            )
        elif kind == "poisson":
            phase = Phase(
                index,
                "p",
                "rate",
                duration,
                arrival_rate=draw(st.floats(min_value=0.5, max_value=40)),
                mode="poisson",
            )
        elif kind == "ramp":
            phase = Phase(
                index,
                "p",
                "ramp",
                duration,
                arrival_rate=draw(st.floats(min_value=0, max_value=40)),
                ramp_to=draw(st.floats(min_value=0, max_value=40)),
            )
        elif kind == "count":
            phase = Phase(
                index,
                "p",
                "count",
                duration,
                arrival_count=draw(st.integers(min_value=0, max_value=300)),
            )
        elif kind == "users":
            phase = Phase(
                index,
                "p",
                "users",
                duration,
                users=draw(st.integers(min_value=1, max_value=50)),
                spawn_rate=draw(st.sampled_from([None, 5.0, 20.0])),
            )
        else:
            phase = Phase(index, "p", "pause", duration)
        phases.append(phase)
    return phases


@settings(max_examples=150, deadline=None)
@given(
    phases=phase_lists(), shards=st.integers(min_value=1, max_value=16), seed=st.integers(0, 2**32)
)
def test_union_of_segments_is_the_whole_schedule(
    phases: list[Phase], shards: int, seed: int
) -> None:
    whole = list(schedule(phases, random.Random(seed)))
    parts = [list(schedule(phases, random.Random(seed), Segment(i, shards))) for i in range(shards)]
    union = sorted((a for part in parts for a in part), key=lambda a: a.index)
    assert len(union) == len(whole)
    assert [a.index for a in union] == [a.index for a in whole]
    assert all(
        abs(a.at - b.at) < 1e-6 and a.phase == b.phase for a, b in zip(union, whole, strict=True)
    )
    # fair share per second, to within one arrival
    per_second = Counter(math.floor(a.at) for a in whole)
    for part in parts:
        mine = Counter(math.floor(a.at) for a in part)
        for second, count in per_second.items():
            assert abs(mine.get(second, 0) - count / shards) <= 1.0


@given(total=st.integers(0, 10_000), shards=st.integers(1, 16))
def test_shares_add_up(total: int, shards: int) -> None:
    shares = [Segment(i, shards).share(total) for i in range(shards)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1


@given(
    count=st.integers(1, 12),
    given_indices=st.lists(st.integers(0, 11), min_size=1, max_size=16),
    started=st.sampled_from(["same", "apart"]),
)
def test_merge_takes_each_segment_once_and_names_the_missing(
    count: int, given_indices: list[int], started: str
) -> None:
    """`merge`'s segment set: a segment held twice is refused, whatever the reports; the
    segments it reports missing are exactly those of 1..N that no report holds."""
    from yamlload.errors import UsageError
    from yamlload.scale.merge import check_segments

    indices = [i % count for i in given_indices]
    parts = [
        (f"part{n}.json", "t0" if started == "same" else f"t{n}", [Segment(i, count)])
        for n, i in enumerate(indices)
    ]
    if len(set(indices)) < len(indices):
        try:
            check_segments(parts)
        except UsageError as exc:
            assert "counted twice" in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError("a segment given twice was merged")
        return
    missing = check_segments(parts)
    assert sorted(s.index for s in missing) == sorted(set(range(count)) - set(indices))
    assert all(s.count == count for s in missing)


@given(counts=st.lists(st.integers(1, 6), min_size=2, max_size=5, unique=True))
def test_merge_refuses_segments_of_different_splits(counts: list[int]) -> None:
    from yamlload.errors import UsageError
    from yamlload.scale.merge import check_segments

    parts = [(f"p{c}.json", "t", [Segment(0, c)]) for c in counts]
    try:
        check_segments(parts)
    except UsageError as exc:
        assert "different numbers of segments" in str(exc)
    else:
        raise AssertionError("segments of different splits were merged")
