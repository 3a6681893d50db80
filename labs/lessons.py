"""Did a lab run show its lesson? One check per lab, shared by the tests and the workshop.

``check(name, result)`` returns the list of failures (empty when the lesson held) for the
:class:`~sim.analysis.result.Result` of lab ``name``. Each check reads the run's own parameters
(``result.params``) and judges the lesson against what the run actually did -- the recorded
publish times and the rate they achieved, the down window as the lab recorded it -- not the
planned schedule: a publisher starved of CPU sends less, and the lesson is about what it sent.
Where the achieved run cannot show the lesson (the publisher never got above the consumers'
rate, too few messages went out while a reader was away), the check fails and says so, with
the achieved and the asked rate. It holds for any run whose parameters make the lesson visible;
where a lesson needs a particular setting (a Zipf key distribution for a hot partition,
more than one partition for a rebalance) the check says so and asks no more of other runs.
The lab tests assert ``check(...) == []``; ``python -m labs workshop`` reports the same
failures per learner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labs.throughput_result import ThroughputResult
from sim.analysis.result import Result


class _Lesson:
    """Collects the failed expectations of one check."""

    def __init__(self, result: Result) -> None:
        self.r = result
        self.m = result.metrics
        self.p = result.params
        self.failures: list[str] = []

    def row(self, reader: str):
        return self.r.report[reader]

    def expect(self, ok: Any, what: str) -> None:
        if not ok:
            self.failures.append(what)

    def achieved_rate(self) -> float:
        """Messages a second the publisher really sent (count over the last publish time)."""
        sent = self.r.history.publish_time
        return float(sent.size / sent[-1]) if sent.size and sent[-1] > 0 else 0.0

    def could_not_keep_up(self, why: str) -> None:
        """The lesson is invisible in this run: say so, with the achieved and asked rate."""
        self.failures.append(
            f"the machine could not keep up: the publisher reached {self.achieved_rate():.0f} "
            f"of {self.p['rate_per_s']:g} msg/s asked, so {why}"
        )

    def zeros(self, reader: str, *fields: str) -> None:
        row = self.row(reader)
        got = {f: getattr(row, f) for f in fields}
        self.expect(all(v == 0 for v in got.values()), f"{reader}: expected no {got}")


#: Fewest messages published while a subscriber was away for its loss to be a lesson rather
#: than the race at the edges of the outage (the [lost_min, lost_max] band is a few wide).
MIN_SENT_WHILE_AWAY = 10


def _loss(c: _Lesson) -> None:
    sub = c.row("subscriber:0")
    lo, hi = c.m["lost_min:subscriber:0"], c.m["lost_max:subscriber:0"]
    # Lost at least what was published while nobody was subscribed (the recorded outage:
    # PUBLISH started after the close and returned before the new SUBSCRIBE), at most
    # everything after the last message read up to the confirmation of the new subscription.
    if lo < MIN_SENT_WHILE_AWAY:
        c.could_not_keep_up(f"only {lo} events went out while the subscriber was away")
    c.expect(lo <= sub.lost <= hi, f"Pub/Sub lost {sub.lost}, outside [{lo}, {hi}]")
    c.expect(sub.unseen == 0, f"Pub/Sub kept {sub.unseen} unseen messages (it keeps nothing)")
    zero = c.m["publish_zero_receivers"]
    c.expect(0 < zero <= sub.lost, f"PUBLISH said 0 receivers {zero} times, lost {sub.lost}")
    grp = c.row("group:0")
    c.expect(grp.acknowledged == sub.acknowledged, "Kafka and Redis saw different sends")
    c.zeros("group:0", "lost", "unseen", "duplicated")
    c.expect(grp.processed == grp.acknowledged, "Kafka did not process every acknowledged event")
    # The backlog is at least what was sent while the consumer was away (its recorded
    # outage), minus two 50 ms lag samples at the achieved rate (+ 5 margin).
    peak, down = c.m["peak_lag:group:0"], c.m["sent_while_down:group:0"]
    slack = 0.1 * c.achieved_rate() + 5
    c.expect(peak >= down - slack, f"peak lag {peak} below {down} sent while away")
    c.expect(c.m["catch_up_s:group:0"] > 0, "the Kafka consumer never caught up")


def _replay(c: _Lesson) -> None:
    n, retained, offline = c.p["messages"], c.p["retained_messages"], c.p["offline_messages"]
    early, late = c.row("group:early"), c.row("group:late")
    c.expect(early.processed == early.acknowledged == n, f"group:early read {early.processed}")
    c.expect(late.processed == n, f"a late group replayed {late.processed} of {n}")
    c.zeros("group:late", "duplicated")
    latest = c.row("group:late-latest")
    c.expect(latest.processed == 0, "auto_offset_reset=latest read old messages")
    c.expect(latest.unseen == n, f"auto_offset_reset=latest: {latest.unseen} unseen, not {n}")
    seek = c.row("seek:offset")
    c.expect(seek.processed == seek.acknowledged > 0, "seek(offset) did not read its range")
    c.zeros("seek:offset", "lost")
    ts, half = c.row("seek:timestamp"), c.m["second_half_messages"]
    c.expect(ts.acknowledged == ts.processed == half, "seek by timestamp missed its half")
    off = c.row("group:offline")
    # The offline group read the first batch (ids after the main topic's) before going away;
    # if retention deleted some of it first, the group never was "up to date, then offline".
    got = c.r.history.reader("group:offline").ids
    first_read = int(((got >= n) & (got < n + retained)).sum())
    c.expect(
        first_read == retained,
        f"group:offline read {first_read} of its first {retained} before retention deleted "
        f"them (joining took longer than retention_ms={c.p['retention_ms']:g} on this machine)",
    )
    c.expect(off.lost == offline, f"offline past retention lost {off.lost}, not {offline}")
    tail = max(1, retained // 5)
    c.expect(off.processed == retained + tail, f"group:offline read {off.processed}")
    deleted = c.m["deleted_by_retention"]
    c.expect(deleted == retained + offline, f"retention deleted {deleted}")


def _hot_partitions(c: _Lesson) -> None:
    c.expect(c.m["partitions_match_murmur2"] == 1.0, "partition counts differ from murmur2")
    parts, salted = c.p["partitions"], c.p["salt_buckets"] > 0
    c.zeros("group:0", "lost", "unseen", "duplicated", *(() if salted else ("reordered",)))
    skew = c.m["partition_skew"]
    if c.p["key_distribution"] == "uniform":
        c.expect(skew < 1.3, f"uniform keys: partition skew {skew:.2f} (expected < 1.3)")
    elif not salted:
        c.expect(skew > 2, f"Zipf keys: partition skew {skew:.2f} (expected > 2)")
        # The hottest partition gets share * rate, more than its worker's service rate: its
        # lag grows at the difference while the producer sends (actual rate and duration).
        # 30% for start-up and jitter.
        sent = c.r.history.publish_time
        rate, share = c.achieved_rate(), c.m["hottest_partition_share"]
        service = c.p["service_rate_per_s"]
        theory = (share * rate - service) * sent[-1]
        hot = max(range(parts), key=lambda p: c.m[f"messages:partition:{p}"])
        peaks = [c.m[f"peak_lag:partition:{p}"] for p in range(parts)]
        if theory <= 150:
            c.could_not_keep_up(
                f"the hottest partition got {share * rate:.0f} msg/s against its worker's "
                f"{service:g}: a lag of {theory:.0f} (< 150) is too small to show"
            )
            return
        c.expect(peaks[hot] >= 0.7 * theory, f"hot partition lag {peaks[hot]} < 0.7 * {theory}")
        c.expect(peaks[hot] == max(peaks), "the hottest partition is not the most lagging")


def _idempotency(c: _Lesson) -> None:
    n, crash, every = c.p["messages"], c.p["crash_after"], c.p["commit_every"]
    after = c.row("group:commit-after")
    last = c.m["last_committed:group:commit-after"]
    c.expect(last == (crash - 1) // every * every, f"last commit at {last}")
    c.expect(after.duplicated == crash - last, f"{after.duplicated} duplicates, not {crash - last}")
    c.zeros("group:commit-after", "lost", "unseen")
    idem = c.row("group:idempotent")
    c.zeros("group:idempotent", "duplicated")
    c.expect(idem.processed == idem.acknowledged == n, f"dedupe processed {idem.processed}")
    redeliveries, hits = c.m["redeliveries:group:idempotent"], c.m["dedupe_hits:group:idempotent"]
    c.expect(redeliveries == crash - last == hits, f"redeliveries {redeliveries}, hits {hits}")
    before = c.row("group:commit-before")
    committed = c.m["last_committed:group:commit-before"]
    c.zeros("group:commit-before", "duplicated")
    c.expect(before.lost == committed - crash, f"commit-first lost {before.lost}")


def _ordering(c: _Lesson) -> None:
    stable = c.row("group:stable-key")
    c.zeros("group:stable-key", "reordered")
    n = c.p["messages"]
    c.expect(stable.processed == stable.acknowledged == n, f"stable key read {stable.processed}")
    inversions = c.m["global_inversions:group:stable-key"]
    if c.p["partitions"] == 1:
        c.expect(inversions == 0, f"one partition but {inversions} global inversions")
        return
    c.expect(inversions > 0, "several partitions yet global order held")
    reb = c.row("group:rebalance")
    c.expect(c.m["rebalances:group:rebalance"] >= 1, "no rebalance happened")
    c.expect(c.m["processed_by_b:group:rebalance"] > 0, "the second consumer processed nothing")
    c.zeros("group:rebalance", "lost", "unseen", "reordered")
    if c.p["commit_on_revoke"]:
        c.zeros("group:rebalance", "duplicated")
        c.expect(c.m["key_regressions:group:rebalance"] == 0, "a key went back in time")
    else:
        # What A had processed past its last commit on the partitions it lost is read again.
        uncommitted = c.m["uncommitted_at_revoke:group:rebalance"]
        c.expect(reb.duplicated == uncommitted, f"{reb.duplicated} duplicates, not {uncommitted}")


def _backpressure(c: _Lesson) -> None:
    slow = c.row("subscriber:slow")
    c.expect(c.m["disconnects:subscriber:slow"] == 1, "the slow subscriber was not dropped once")
    c.expect(c.m["server_dropped_client:subscriber:slow"] == 1.0, "Redis did not drop it")
    c.expect(slow.lost > 0, "the dropped subscriber lost nothing")
    c.zeros("group:slow", "lost", "unseen", "duplicated")
    c.expect(c.m["catch_up_s:group:slow"] > 0, "the Kafka consumer never caught up")
    # The consumer's backlog when publishing ended: the sends actually made minus what it
    # could process in the time they actually took.
    sent = c.r.history.publish_time
    service = c.p["service_rate_per_s"]
    backlog = sent.size - service * sent[-1]
    if backlog <= 50:
        c.could_not_keep_up(
            f"against the readers' {service:g} msg/s the backlog was only {backlog:.0f} (<= 50)"
        )
        return
    # A policy subscriber reads its socket as fast as messages come; if its thread was
    # starved so long that Redis dropped it anyway, its policy's counts mean nothing.
    dropped = [p for p in ("queue", "shed", "degrade") if c.m[f"disconnects:subscriber:{p}"]]
    if dropped:
        c.could_not_keep_up(
            f"Redis dropped {', '.join(f'subscriber:{p}' for p in dropped)}: a thread that "
            "reads as fast as messages come did not get to read its socket in time"
        )
        return
    c.zeros("subscriber:queue", "lost")
    shed, degrade = c.row("subscriber:shed"), c.row("subscriber:degrade")
    shed_n, superseded = c.m["shed:subscriber:shed"], c.m["superseded:subscriber:degrade"]
    c.expect(shed.lost == shed_n > 0, f"shed: lost {shed.lost} != shed {shed_n}")
    c.expect(
        degrade.lost == superseded > 0, f"degrade: lost {degrade.lost} != superseded {superseded}"
    )
    c.expect(c.m["latest_state_correct:subscriber:degrade"] == 1.0, "degrade: wrong latest state")
    shed_limit = c.p["shed_limit"]
    c.expect(shed_n >= 0.5 * (backlog - shed_limit), f"shed {shed_n} of a {backlog:.0f} backlog")
    peak = c.m["peak_lag:group:slow"]
    c.expect(peak >= 0.7 * backlog, f"Kafka peak lag {peak:.0f} < 0.7 * {backlog:.0f}")


def _poison(c: _Lesson) -> None:
    poison, transient, retries = c.m["poison"], c.m["transient"], c.p["max_retries"]
    dlq = poison + (0 if retries else transient)
    c.expect(c.m["dlq"] == dlq, f"{c.m['dlq']} dead-lettered, not {dlq}")
    expected = poison * retries + (transient if retries else 0)
    c.expect(c.m["retries"] == expected, f"{c.m['retries']} retries, not {expected}")
    c.zeros("pipeline", "lost")
    if not retries:
        return
    n = c.p["messages"]
    c.expect(c.m["recovered_by_retry"] == transient, "retries did not recover the transient")
    main = c.row("group:main")
    c.expect(main.processed == main.acknowledged == n - dlq, f"main read {main.processed}")
    c.zeros("group:main", "lost")
    again = c.row("group:dlq-reprocess")
    c.expect(again.processed == again.acknowledged == dlq, "the DLQ was not reprocessed")
    pipe = c.row("pipeline")
    c.expect(pipe.processed == n, f"the pipeline processed {pipe.processed} of {n}")
    c.zeros("pipeline", "duplicated")


def _streams(c: _Lesson) -> None:
    batch, crash = c.p["batch"], c.p["crash_after"]
    # Read but unacknowledged at the crash: the crashed entry and the rest of its batch.
    pending = batch - (crash - 1) % batch
    c.expect(c.m["pending_after_crash"] == pending, f"{c.m['pending_after_crash']} pending")
    c.expect(c.m["claimed"] == pending, f"XAUTOCLAIM claimed {c.m['claimed']}, not {pending}")
    c.expect(c.m["max_delivery_count"] == 2, "an entry was delivered other than twice")
    c.expect(c.m["pending_at_end"] == 0, "entries still pending at the end")
    c.zeros("stream-group:0", "lost", "unseen")
    dup = c.row("stream-group:0").duplicated
    c.expect(dup == 1, f"{dup} stream duplicates (expected the crashed one)")
    kafka = c.row("group:0")
    expected = crash - c.m["last_committed:group:0"]
    c.expect(kafka.duplicated == expected, f"Kafka: {kafka.duplicated} duplicates, not {expected}")
    c.zeros("group:0", "lost")


def _streams_ops(c: _Lesson) -> None:
    n, deliveries, abandoned = c.p["messages"], c.p["max_deliveries"], c.p["abandoned"]
    # Dead letters: exactly the records whose every delivery failed (the lab's draws),
    # each moved after the delivery count XPENDING reported reached max_deliveries.
    dead = c.m["poison"] + c.m["failed_every_delivery"]
    c.expect(c.m["dead_lettered"] == dead, f"{c.m['dead_lettered']} dead-lettered, not {dead}")
    c.expect(c.m["dlq_length"] == dead, f"the dead-letter stream holds {c.m['dlq_length']}")
    if dead:
        got = (c.m["min_dead_letter_deliveries"], c.m["max_delivery_count"])
        c.expect(got == (deliveries, deliveries), f"dead-lettered after {got} deliveries")
    # The monitoring view after the first pass: what failed once is pending, nothing lags.
    pending = c.m["pending_after_first_pass"]
    c.expect(pending == c.m["failed_first_delivery"], f"{pending} pending after the first pass")
    c.expect(c.m["group_pending_after_first_pass"] == pending, "XINFO GROUPS != XPENDING")
    per_consumer = c.m["pending:c1"] + c.m["pending:c2"]
    c.expect(per_consumer == pending, f"XINFO CONSUMERS pending add up to {per_consumer}")
    c.expect(c.m["lag_before_reading"] == n, f"lag {c.m['lag_before_reading']} before reading")
    c.expect(c.m["lag_after_first_pass"] == 0, "lag left after every entry was delivered")
    c.expect(c.m["pending_at_end"] == 0, "entries still pending after the claim rounds")
    ops = c.row("stream-group:ops")
    c.expect(ops.lost == dead + abandoned, f"group ops lost {ops.lost}, not {dead + abandoned}")
    c.zeros("stream-group:ops", "duplicated")
    dlq = c.row("dlq:ops")
    c.expect(dlq.processed == dlq.acknowledged == dead, f"dead-letter stream: {dlq.processed}")
    # XGROUP DELCONSUMER drops what the consumer held, unless it was claimed first.
    dropped = c.m["pending_dropped_by_delconsumer"]
    c.expect(dropped == abandoned, f"DELCONSUMER dropped {dropped} pending, not {abandoned}")
    c.expect(c.m["pending_after_delconsumer"] == 0, "DELCONSUMER left its entries pending")
    saved = c.m["pending_saved_by_claim_first"]
    c.expect(saved == abandoned, f"XCLAIM before DELCONSUMER saved {saved} of {abandoned}")
    c.expect(c.m["pending_dropped_by_delconsumer_after_claim"] == 0, "dropped after a claim")
    _streams_trim(c)
    # One stream per shard, retrying in place: the same dead letters, and per-key order.
    got = c.m["dead_lettered_sharded"]
    c.expect(got == dead, f"the shards dead-lettered {got}, not {dead}")
    if dead:
        counts = (c.m["min_delivery_count_sharded"], c.m["max_delivery_count_sharded"])
        c.expect(counts == (deliveries, deliveries), f"shards: dead after {counts} deliveries")
    shards = c.row("shards")
    c.expect(shards.lost == dead, f"shards: {shards.lost} not processed, not {dead}")
    c.zeros("shards", "reordered", "duplicated")


def _streams_trim(c: _Lesson) -> None:
    total, slow_read, maxlen = c.p["trim_messages"], c.p["slow_read"], c.p["maxlen"]
    after_maxlen, kept = c.m["stream_length_after_maxlen"], c.m["stream_length_after_minid"]
    # MAXLEN ~ removes whole macro nodes: at least maxlen entries stay, maybe more.
    c.expect(maxlen <= after_maxlen <= total, f"MAXLEN ~ {maxlen} kept {after_maxlen}")
    want = min(c.p["minid_keep"], after_maxlen)
    c.expect(kept == want, f"MINID kept {kept}, not {want}")
    c.expect(c.m["lag_before_trim"] == total - slow_read, "lag before the trim")
    gone = total - kept
    listed = c.m["pending_listed_after_trim"]
    c.expect(listed == slow_read, f"XPENDING listed {listed} after the trim, not {slow_read}")
    pending_trimmed = min(slow_read, gone)
    got = c.m["pending_trimmed"]
    c.expect(got == pending_trimmed, f"{got} pending ids without data, not {pending_trimmed}")
    deleted = c.m["autoclaim_deleted"]
    c.expect(deleted == pending_trimmed, f"XAUTOCLAIM returned {deleted} deleted ids")
    claimed, survivors = c.m["claimed_after_trim"], slow_read - pending_trimmed
    c.expect(claimed == survivors, f"XAUTOCLAIM took over {claimed}, not {survivors}")
    c.expect(c.m["pending_after_autoclaim"] == 0, "trimmed ids still pending after XAUTOCLAIM")
    unread = gone - pending_trimmed
    c.expect(c.m["trimmed_unread"] == unread, f"{c.m['trimmed_unread']} unread trimmed")
    slow = c.row("stream-group:slow")
    c.expect(slow.lost == gone and slow.processed == kept, f"group slow lost {slow.lost}")


def _hybrid(c: _Lesson) -> None:
    c.zeros("group:bridge", "lost", "unseen")
    view = c.row("subscriber:0")
    lo, hi = c.m["lost_min:subscriber:0"], c.m["lost_max:subscriber:0"]
    # Judged against what the bridge really published while the view was away (lost_min).
    if lo < MIN_SENT_WHILE_AWAY:
        c.could_not_keep_up(f"only {lo} events were published while the view was away")
    c.expect(lo <= view.lost <= hi, f"the view lost {view.lost}, outside [{lo}, {hi}]")
    c.expect(c.m["wrong_balances:subscriber:0"] > 0, "the live view had no wrong balance")
    rebuild = c.row("replay:rebuild")
    c.expect(rebuild.processed == rebuild.acknowledged, "the rebuild missed events")
    c.expect(c.m["wrong_balances:replay:rebuild"] == 0, "the rebuilt view is wrong")


def _partitioners(c: _Lesson) -> None:
    from labs.partitioners import lesson_failures  # the check lives with its lab

    c.failures += lesson_failures(c.r)


def _rebalance(c: _Lesson) -> None:
    from sim.models.rebalance import moved_on

    c.zeros("group:members", "lost")
    others = c.m["others_callbacks"]
    if c.p["event"] == "restart" and c.p["static"]:  # no rebalance: only its own partitions
        want = c.p["partitions"] // c.p["members"]
        c.expect(others == 0, f"the static restart rebalanced the others ({others} callbacks)")
    else:
        want = moved_on(c.p["protocol"], c.p["event"], c.p["partitions"], c.p["members"])
        if c.p["event"] == "restart":
            c.expect(others > 0, "the dynamic restart rebalanced no other member")
    got = c.m["stopped_partitions"]
    c.expect(got == want, f"{got} partitions stopped, not {want} ({c.p['protocol']})")
    if c.p["event"] != "restart":  # the partitions that did not move: only eager stops them
        kept, pause = c.m["kept_partitions"], c.m["kept_unowned_partition_s"]
        if c.p["protocol"] != "eager":
            c.expect(pause == 0, f"{c.p['protocol']} stopped partitions that did not move")
        elif kept > 0:
            c.expect(pause > 0, "eager did not stop the partitions that did not move")


def _zombie(c: _Lesson) -> None:
    want = c.p["batch"] - c.p["stall_at"]
    c.expect(c.m["zombie_duplicates"] == want, f"zombie duplicates {c.m['zombie_duplicates']}")
    c.expect(c.m["commit_rejected"] == 1, "the zombie's commit was not rejected")
    c.zeros("group:zombie", "lost")


def _retention(c: _Lesson) -> None:
    # Whole segments expire, never before retention.ms; a late group finds what is left.
    c.expect(c.m["log_start_jumps"] >= 1, "the log start offset never moved")
    kept, r = c.m["shortest_kept_s"], c.p["retention_ms"] / 1000
    c.expect(kept >= r, f"a record was deleted {kept:.3f} s after it was written (< {r:g} s)")
    found, end = c.m["late_found"], c.m["late_end_offset"]
    c.expect(0 < found < end, f"the late group found {found} of the {end} records written")


def _compaction(c: _Lesson) -> None:
    # The late reader's state is exactly the latest value per key, no deleted key in it.
    c.zeros("bootstrap:late", "lost", "unseen", "duplicated")
    c.expect(c.m["state_matches"] == 1.0, "the late reader's state is not the latest state")
    live = c.m["live_keys"]
    c.expect(c.m["keys_in_state"] == live, f"{c.m['keys_in_state']} keys in state, not {live}")
    c.expect(c.m["tombstones_left"] == 0, f"{c.m['tombstones_left']} tombstones left")
    # Compacted: one record per live key, plus the active segment's record and the older
    # record of its key, which the cleaner cannot drop while its successor is uncleaned.
    left, written = c.m["records_left"], c.m["records_written"]
    c.expect(c.m["superseded_left"] == 1, f"{c.m['superseded_left']} superseded records left")
    c.expect(left == live + 1, f"{left} records left of {written}, not {live} + 1")
    lag = c.p["min_compaction_lag_ms"] / 1000
    got = c.m["compacted_after_s"]
    c.expect(got >= lag, f"compacted {got:.2f} s after the write, before min.compaction.lag.ms")


def _transactions(c: _Lesson) -> None:
    committed, aborted = c.m["records_committed"], c.m["records_aborted"]
    c.zeros("consumer:read_committed", "lost", "unseen", "duplicated")
    c.zeros("consumer:read_uncommitted", "lost", "unseen", "duplicated")
    rc, ru = c.row("consumer:read_committed"), c.row("consumer:read_uncommitted")
    c.expect(rc.processed == committed, f"read_committed read {rc.processed} of {committed}")
    c.expect(ru.processed == committed + aborted, f"read_uncommitted read {ru.processed}")
    seen = c.m["aborted_seen:consumer:read_committed"]
    c.expect(seen == 0, f"read_committed returned {seen} aborted records")
    seen = c.m["aborted_seen:consumer:read_uncommitted"]
    c.expect(seen == aborted, f"read_uncommitted returned {seen} of {aborted} aborted records")
    if c.p["aborted"]:
        c.expect(aborted > 0, "no record of an aborted transaction reached the log")
    markers, want = c.m["control_records"], c.m["expected_control_records"]
    c.expect(markers == want, f"{markers} control records, not one per transaction and partition")


def _outbox(c: _Lesson) -> None:
    after, before = c.m["crashes_after_commit"], c.m["crashes_before_commit"]
    dual = c.row("consumer:dual-write")
    c.expect(dual.lost == after, f"the dual write lost {dual.lost}, not {after}")
    invented = c.m["invented:consumer:dual-write"]
    c.expect(invented == before, f"the dual write invented {invented}, not {before}")
    if c.m["crashes"]:
        c.expect(dual.lost + invented > 0, "the dual write neither lost nor invented an event")
    c.zeros("consumer:outbox-deduped", "lost", "unseen", "duplicated")
    c.expect(c.m["invented:consumer:outbox"] == 0, "the outbox invented an event")
    raw, again = c.row("consumer:outbox"), c.m["relay_republished"]
    c.expect(raw.extra == again, f"{raw.extra} extra events, relay republished {again}")
    c.expect(c.m["outbox_unsent"] == 0, "outbox rows left unsent")


def _throughput(c: _Lesson) -> None:
    # Every curve stopped where it should; a point never delivers more than it planned.
    for curve in c.r.curves:
        points = c.r.points_of(curve.config)
        c.expect(points, f"{curve.config}: no point measured")
        c.expect(
            all(p.received <= p.sent <= p.planned for p in points),
            f"{curve.config}: received more than sent",
        )
        c.expect(
            not any(p.saturated for p in points[:-1]), f"{curve.config}: swept past saturation"
        )
    # Larger messages lower the message rate a configuration delivers: in every group of
    # curves that differ only in size, where the largest size saturated (not where the byte
    # cap ended its sweep), its peak delivered rate (received / point_s, the best point of
    # its sweep) is below the smallest size's. Delivered messages are compared, not the
    # sustainable rate: that rests on p99, which a stall of a loaded machine lifts at any
    # rate (a workshop runs four learners on two cores).
    groups: dict[tuple, list] = {}
    for curve in c.r.curves:
        key = (curve.system, curve.client, curve.acks, curve.linger_ms, curve.compression)
        groups.setdefault(key, []).append(curve)
    compared = 0
    for curves in groups.values():
        small = min(curves, key=lambda x: x.size_bytes)
        large = max(curves, key=lambda x: x.size_bytes)
        if large is small or large.saturated_at_per_s is None:
            continue
        compared += 1
        big, little = max(large.achieved_per_s), max(small.achieved_per_s)
        c.expect(
            big < little,
            f"{large.config} delivered up to {big:.0f} msg/s, {small.config} {little:.0f}",
        )
    if any(len(g) > 1 for g in groups.values()):
        c.expect(compared, "no larger message size saturated: the sweep ended before it did")


#: Seconds Redis may postpone an AOF write(2) while a background fsync is slow (everysec):
#: what a process crash can cost with everysec ("Redis persistence", redis.io).
EVERYSEC_POSTPONE_S = 2.0
#: Fewest writes in one link delay (rate x lag) for an asynchronous failover's loss to show.
MIN_IN_FLIGHT = 3


def _redis_durability(c: _Lesson) -> None:
    h, records = c.r.history, c.p["records"]
    for policy in ("no-aof", "everysec", "always"):
        c.expect(c.m[f"acked:{policy}"] == records, f"{policy}: {c.m[f'acked:{policy}']} acked")
    # A restart without AOF (and no snapshot) starts empty; fsync always keeps every one.
    lost_no = c.m["lost_after_restart:no-aof"]
    c.expect(lost_no == records, f"appendonly no lost {lost_no} of {records}, not all")
    c.zeros("restart:always", "lost")
    # everysec on a process kill: at most what Redis may have held back (its last 2 s).
    t = h.publish_time[h.reader("restart:everysec").expected]
    recent = int((t >= t.max() - EVERYSEC_POSTPONE_S).sum())
    lost = c.m["lost_after_restart:everysec"]
    c.expect(lost <= recent, f"everysec lost {lost}, more than its last 2 s ({recent})")
    lag = c.p["lag_ms"]
    for label, param in (("low", "rate_per_s"), ("high", "high_rate_per_s")):
        rate = c.p[param]
        if rate * lag / 1000.0 < MIN_IN_FLIGHT:
            c.failures.append(
                f"{label}: {rate:g} msg/s x {lag:g} ms is under {MIN_IN_FLIGHT} writes in flight: "
                "raise the rate or lag_ms to see the failover lose acknowledged writes"
            )
            continue
        lost = c.m[f"lost_on_failover:{label}"]
        c.expect(lost >= 1, f"{label}: the asynchronous failover lost no acknowledged write")
        c.zeros(f"wait:{label}", "lost")
        c.expect(c.m[f"acked_wait:{label}"] > 0, f"{label}: WAIT confirmed no write")
        p50 = c.m[f"wait_p50_ms:{label}"]
        # WAIT returns once the write reached the replica and its ACK came back: >= 2 lags.
        c.expect(p50 >= 2 * lag, f"{label}: WAIT p50 {p50:.0f} ms, under two link delays")


def _reconnect(c: _Lesson) -> None:
    # (a) one outage, one gap, every missed message repaired from the stream (when it kept
    # them), nothing reordered on a connection, the application's sequence complete.
    missed, repaired = c.m["missed"], c.m["repaired"]
    if missed < MIN_SENT_WHILE_AWAY:
        c.could_not_keep_up(f"only {missed} messages went out while the subscriber was away")
    c.expect(c.m["gaps_detected"] == 1, f"{c.m['gaps_detected']} gaps detected, not 1")
    c.expect(missed == c.row("subscriber:0").lost, f"missed {missed}, Pub/Sub lost more/less")
    c.expect(c.m["reordered_within_connection"] == 0, "numbers went backwards on a connection")
    c.expect(c.m["gateway_order_inversions"] == 0, "the gateway delivered out of order")
    maxlen = c.p["stream_maxlen"]
    if not maxlen or maxlen > missed + c.p["rate_per_s"]:  # the stream kept the whole gap
        c.expect(repaired == missed, f"repaired {repaired} of {missed} missed")
        c.expect(c.m["still_missing"] == 0, f"{c.m['still_missing']} still missing")
        c.zeros("gateway:0", "lost", "unseen", "duplicated")
    # (b) the cache kept across the reconnect serves stale reads; flushed, none.
    away = c.m["keys_updated_while_down"]
    c.expect(
        c.m["stale_reads_without_flush"] > 0,
        f"no stale read without the flush ({away} keys updated while away)",
    )
    c.expect(c.m["stale_reads_with_flush"] == 0, f"{c.m['stale_reads_with_flush']} stale with it")
    c.expect(
        c.m["invalidations_while_connected_without_flush"] > 0, "no invalidation while connected"
    )


LESSONS: dict[str, Callable[[_Lesson], None]] = {
    "loss": _loss,
    "replay": _replay,
    "hot_partitions": _hot_partitions,
    "idempotency": _idempotency,
    "ordering": _ordering,
    "backpressure": _backpressure,
    "poison": _poison,
    "streams": _streams,
    "streams_ops": _streams_ops,
    "hybrid": _hybrid,
    "partitioners": _partitioners,
    "rebalance": _rebalance,
    "zombie": _zombie,
    "retention": _retention,
    "throughput": _throughput,
    "redis_durability": _redis_durability,
    "reconnect": _reconnect,
    "compaction": _compaction,
    "transactions": _transactions,
    "outbox": _outbox,
}


def check(name: str, result: Result | ThroughputResult) -> list[str]:
    """The failures of lab ``name``'s lesson in ``result`` (``[]``: the lesson held)."""
    key = name.replace("-", "_")
    if key not in LESSONS:
        raise ValueError(f'"name" must be one of {sorted(LESSONS)}, got {name!r}.')
    lesson = _Lesson(result)
    try:
        LESSONS[key](lesson)
    except KeyError as exc:  # a metric or reader the lab did not record
        lesson.failures.append(f"{key}: the result has no {exc}")
    return lesson.failures
