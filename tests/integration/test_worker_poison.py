"""Jobs that must not hurt a worker: not JSON, an unknown major version, a job over 64 KiB, an
entry without a job field, a job past its deadline and a job delivered more often than
--max-deliveries. Each gets its result (malformed ones on the default results stream, whatever
replyTo they name) and, except the late job, a dead letter with the reason; the worker keeps
serving valid jobs afterwards.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

REPLY = "acmeva:v1:results:test-poison"
MALFORMED = "urn:ietf:params:acme:error:malformed"
INTERNAL = "urn:ietf:params:acme:error:serverInternal"

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer()
worker = None
try:
    TIMEOUT_MS, CLAIM_MS = 10000, 300
    worker = t.WorkerProc(["--redis", redis.url, "--threads", "2", "--max-deliveries", "3",
                           "--claim-idle-ms", str(CLAIM_MS), "--timeout-ms", str(TIMEOUT_MS),
                           "--log-format", "json"] + t.cts_engine_args(cts), "poison")
    # Jobs that are not validated are answered once read; valid ones within --timeout-ms more.
    UNRUN_S = t.READ_BLOCK_S + t.GRACE_S
    RUN_S = t.READ_BLOCK_S + TIMEOUT_MS / 1000 + t.GRACE_S
    cl = redis.client()
    c.ok(t.wait_group(cl, consumers=2), "the worker joined the group")

    tok = t.new_token()
    cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})

    def good(jid):
        return t.job(t.unique("poison"), "http-01", tok, t.key_authorization(tok), job_id=jid,
                     replyTo=REPLY)

    v2 = good("poison-v2")
    v2["v"] = 2  # a major this worker does not speak; its replyTo must not be trusted
    big = good("poison-big")
    big["padding"] = "x" * (64 * 1024)
    late = good("poison-late")
    late["deadlineMs"] = int(time.time() * 1000) - 1000
    ids = t.enqueue(cl, ["{not json", v2, big, late])
    ids.append(cl.call("XADD", t.JOBS_STREAM, "*", "nojob", "here").decode())
    ids.append(cl.call("XADD", t.JOBS_STREAM, "*", "job", b"\xff\xfe\x00binary").decode())

    # The dead letters and the malformed results.
    dead = t.wait_until(lambda: len(t.stream_entries(cl, t.DEAD_STREAM)) >= 5 and
                        t.stream_entries(cl, t.DEAD_STREAM), UNRUN_S)
    c.ok(dead, "five dead letters")
    reasons = [f.get("reason", "") for _, f in dead or []]
    raws = [f.get("job", "") for _, f in dead or []]
    c.ok(any("not valid JSON" in r for r in reasons), "reason: not JSON", reasons)
    c.ok(any("unsupported schema major 2" in r for r in reasons), "reason: the unknown major",
         reasons)
    c.ok(any("more than the limit of 65536 bytes" in r for r in reasons), "reason: too big",
         reasons)
    c.ok(any("no \"job\" field" in r for r in reasons), "reason: no job field", reasons)
    c.ok("{not json" in raws, "the dead letter keeps the raw job", raws[:2])
    c.ok(any(len(r) > 64 * 1024 for r in raws), "the big job is kept whole in its dead letter")

    mal = t.wait_until(lambda: len(t.stream_results(cl)) >= 5 and t.stream_results(cl), UNRUN_S)
    c.ok(mal, "five malformed results on the default results stream")
    mal = mal or []
    c.ok(all((r.get("error") or {}).get("type") == MALFORMED for r in mal),
         "they are malformed problems", [r.get("error") for r in mal])
    c.ok("poison-v2" in [r.get("id") for r in mal],
         "the unknown major's result carries its id, on the default stream despite replyTo")
    c.ok("poison-big" not in [r.get("id") for r in t.stream_results(cl, REPLY)],
         "nothing malformed went to the replyTo the job named")
    c.ok(sum(1 for r in mal if r.get("id") is None) >= 3, "unreadable ids are null")

    # The late job: an error result on its replyTo, no dead letter, never validated.
    res = t.wait_until(lambda: [r for r in t.stream_results(cl, REPLY)
                                if r.get("id") == "poison-late"], UNRUN_S)
    c.ok(res, "the late job has a result on its replyTo")
    if res:
        c.problem(res[0], "serverInternal", "deadline passed before the job was picked up",
                  "late job")
        c.ok(not res[0].get("validationRecord"), "the late job was not validated",
             res[0].get("validationRecord"))
    c.ok(not any("poison-late" in r for r in raws), "no dead letter for the late job")

    # A job delivered too often: a ghost consumer takes it and its delivery count is set to
    # the limit (XCLAIM RETRYCOUNT); the worker's XAUTOCLAIM makes it one more.
    # One transaction, so that no worker reads the entry as new first: SETID puts the group
    # past it, FORCE makes it pending for the ghost, IDLE makes it claimable at once.
    eid = f"{int(time.time() * 1000) + 1000}-0"
    replies = cl.pipeline([
        ["MULTI"],
        ["XADD", t.JOBS_STREAM, eid, "job", json.dumps(good("poison-redelivered"))],
        ["XGROUP", "SETID", t.JOBS_STREAM, "acmeva", eid],
        ["XCLAIM", t.JOBS_STREAM, "acmeva", "ghost", 0, eid, "IDLE", 10000, "RETRYCOUNT", 3,
         "FORCE", "JUSTID"],
        ["EXEC"]])
    c.ok(isinstance(replies[-1], list) and replies[-1][-1] == [eid.encode()],
         "the ghost holds the job", replies)
    res = t.wait_until(lambda: [r for r in t.stream_results(cl, REPLY)
                                if r.get("id") == "poison-redelivered"],
                       (CLAIM_MS / 4) / 1000 + t.GRACE_S)  # claimed at the next claim round
    c.ok(res, "the redelivered job has a result")
    if res:
        c.problem(res[0], "serverInternal", "more than --max-deliveries 3", "redelivered job")
        c.eq(res[0].get("attempt"), 4, "its attempt is the delivery count")
    dead = t.stream_entries(cl, t.DEAD_STREAM)
    c.ok(any("poison-redelivered" in f.get("job", "") and
             "delivered 4 times" in f.get("reason", "") for _, f in dead),
         "the redelivered job is dead-lettered", [f.get("reason") for _, f in dead])

    # A replyTo that holds another type: the EXEC acknowledges the job but cannot post its
    # result, so a dead letter says why.
    cl.call("SET", "acmeva:v1:results:not-a-stream", "x")
    wt = good("poison-wrongtype")
    wt["replyTo"] = "acmeva:v1:results:not-a-stream"
    t.enqueue(cl, [wt])
    dl = t.wait_until(lambda: [f for _, f in t.stream_entries(cl, t.DEAD_STREAM)
                               if "poison-wrongtype" in f.get("job", "")], RUN_S)
    c.ok(dl and "could not be posted to acmeva:v1:results:not-a-stream" in dl[0]["reason"] and
         "WRONGTYPE" in dl[0]["reason"], "a result that cannot be posted is dead-lettered",
         dl)

    # Still serving.
    t.enqueue(cl, [good("poison-after")])
    res = t.wait_until(lambda: [r for r in t.stream_results(cl, REPLY)
                                if r.get("id") == "poison-after"], RUN_S)
    c.ok(res and res[0].get("status") == "valid", "a valid job afterwards is still served")
    c.ok(worker.alive(), "the worker is still running")
    # A result and its acknowledgement are one transaction: no wait beyond the grace.
    c.ok(t.wait_until(lambda: t.pending_count(cl) == 0, t.GRACE_S), "nothing left pending")
    c.eq(worker.stop(), 0, "exit 0 on SIGTERM")
    log = worker.log()
    c.ok('"msg":"validation"' in log and '"reason":"malformed:' in log,
         "JSON log lines for the malformed jobs", log[-2000:])
finally:
    if worker:
        worker.cleanup()
    redis.cleanup()
c.done()
