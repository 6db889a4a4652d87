"""Grouped-recipients figure of the queue benchmark (``bench_queue.py``).

SpeedSMS allows an account 60 requests a minute. A channel limited to 1
request per second sends a campaign of one text (no personal field) to N
contacts (1,000 by default) against a SpeedSMS peer answering in 50 ms:
messages of the same text go up to 100 recipients per request
(``SpeedSmsAdapter.send_many``), so the campaign goes at about 100 messages/s
instead of 1. Prints messages/s, requests made and the busiest second of
requests at the peer (never above the configured 1/s).
"""

import time

BODY = "Cửa hàng giảm 20% tất cả sản phẩm đến hết Chủ nhật. Hẹn gặp bạn!"
RATE = 1.0  # requests per second: SpeedSMS's 60 a minute
LATENCY = 0.05


def bench_grouped(bq, registry, args, results):
    n = args.grouped_messages
    with bq.bench_peers.PeerProcess("speedsms", delay=LATENCY) as peer:
        with bq.environment(registry) as env:
            channel = bq.make_channel(
                env,
                "SpeedSMS 60 requests/min",
                "speedsms",
                speedsms_url=peer.url,
                speedsms_access_token=bq.bench_peers.BenchSpeedSmsPeer.access_token,
                speedsms_sms_type="2",
                rate_per_second=RATE,
            )
            campaign = bq.make_campaign(
                env,
                "grouped",
                channel,
                bq.first_partners_domain(n),
                body=BODY,
            )
            campaign.action_confirm()
            campaign.action_activate()
            bq.commit(env)
            campaign_id = campaign.id
        bq.bench_peers.peer_reset(peer.url)
        bq.log("grouped: %d messages of one text, SpeedSMS at %g request/s" % (n, RATE))
        started = time.perf_counter()
        deadline = started + n / RATE + 60
        while time.perf_counter() < deadline:
            with bq.environment(registry) as env:
                env["messaging.message"]._process_queue(time_limit=30)
                left = bq.states(env, "messaging_message", "campaign_id", campaign_id)
            if not left.get("queued"):
                break
        elapsed = time.perf_counter() - started
        stats = bq.bench_peers.peer_stats(peer.url)
    with bq.environment(registry) as env:
        by_state = bq.states(env, "messaging_message", "campaign_id", campaign_id)
    arrivals = sorted(stats["arrivals"])
    result = {
        "messages": n,
        "states": by_state,
        "requests": len(arrivals),
        "seconds": elapsed,
        "rate": by_state.get("sent", 0) / elapsed if elapsed else 0.0,
        "max_window": bq.sliding_max(arrivals),
    }
    bq.log(
        "grouped: %s, %d requests, %.1f s = %.0f msg/s, busiest second %d requests"
        % (by_state, len(arrivals), elapsed, result["rate"], result["max_window"])
    )
    results["grouped"] = result


def report(row, res):
    sent = res["states"].get("sent", 0)
    row(
        "7 SpeedSMS at 60 requests/min, one text",
        "%d of %d sent in %d requests, %.1f s = %.0f msg/s (one per request: %g)"
        % (sent, res["messages"], res["requests"], res["seconds"], res["rate"], RATE),
        "grouped, <= %g request/s" % RATE,
        "PASS"
        if sent == res["messages"] and res["max_window"] <= RATE and res["rate"] > RATE
        else "MISS",
    )
