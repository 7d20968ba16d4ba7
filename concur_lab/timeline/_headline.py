"""Reading a chart in words: how each mode's workers shared the CPUs, judged from the spans."""

from __future__ import annotations

from collections.abc import Sequence

from concur_lab.timeline._spans import BLOCKING_KINDS, ModeTimeline

__all__ = ["headline", "is_io_bound"]


def is_io_bound(timeline: ModeTimeline) -> bool:
    """Whether the workers spent a good part of their time blocked (in I/O or asleep)."""
    blocked = timeline.time_in(BLOCKING_KINDS)
    return blocked > 0.3 * (blocked + timeline.time_in(("running",)))


def _describe(timeline: ModeTimeline) -> str:
    """Say in a few words how a mode's workers shared the CPUs (and their I/O waits)."""
    if len(timeline.workers) < 2 or not timeline.time_in(("running", *BLOCKING_KINDS)):
        return "ran"
    together = timeline.overlap_fraction()
    io_bound = is_io_bound(timeline)
    # Processes need no permission to run: if they waited, the CPUs were busy elsewhere. (For
    # I/O-bound work the waits are short next to the blocking, and the blocking is the lesson.)
    starved = timeline.waiting_fraction(("waiting-cpu",)) > 0.3 or (
        not (timeline.is_thread or io_bound) and timeline.waiting_fraction() > 0.3
    )
    if together >= 0.6:
        cpu = "run side by side"
    elif starved and together >= 0.05:
        cpu = "partly overlap (they often waited for a free CPU: the machine was busy)"
    elif together >= 0.05:
        cpu = "partly overlap on the CPU" if io_bound else "partly overlap"
    elif starved and timeline.is_thread:
        # Their turns are the GIL's; the gaps between them were the busy machine's.
        cpu = "take turns, one at a time"
    elif starved:
        cpu = "waited for a free CPU (the machine was busy)"
    else:
        cpu = "take turns on the CPU" if io_bound else "take turns, one at a time"
    if not io_bound:
        return cpu
    blocked_together = timeline.overlap_fraction(BLOCKING_KINDS)
    if blocked_together >= 0.6:
        if cpu == "run side by side":
            return "run and wait for I/O side by side"
        return f"{cpu} but wait for I/O side by side"
    if blocked_together >= 0.05:
        return f"{cpu} and partly overlap their I/O waits"
    return f"{cpu} and wait for I/O one at a time"


def headline(timelines: Sequence[ModeTimeline]) -> str:
    """Sum up in plain words, from the spans, how each mode's workers shared the CPUs.

    :returns: E.g. ``"Threads take turns, one at a time — processes run side by side"``, one
        clause per timeline, judged by :meth:`ModeTimeline.overlap_fraction`; one clause for
        both (``"Threads and processes both …"``) when they behaved alike.
    """
    subjects = ["threads" if timeline.is_thread else "processes" for timeline in timelines]
    descriptions = [_describe(timeline) for timeline in timelines]
    if len(set(subjects)) == len(subjects) > 1 and len(set(descriptions)) == 1:
        # Saying the same thing twice hides that the sameness is the point.
        text = f"{' and '.join(subjects)} both {descriptions[0]}"
    else:
        text = " — ".join(f"{s} {d}" for s, d in zip(subjects, descriptions, strict=True))
    return text[:1].upper() + text[1:]
