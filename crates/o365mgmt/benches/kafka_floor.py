"""librdkafka alone, for the fleet benchmark's Kafka rows: the records the sink writes (a key,
four headers, the event's bytes), in transactions of the same size, flushed then committed,
through confluent-kafka. Prints one JSON line: CPU seconds per million records of this whole
process (librdkafka's threads included), the Python loop's own cost taken out.

Usage: kafka_floor.py BOOTSTRAP TOPIC EVENTS_FILE RECORDS PER_TRANSACTION
EVENTS_FILE holds events, one per line (they are cycled through).
"""
import json
import resource
import sys
import time

from confluent_kafka import Producer


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    bootstrap, topic, path, n, per_tx = sys.argv[1:6]
    n, per_tx = int(n), int(per_tx)
    with open(path, "rb") as f:
        events = [line.rstrip(b"\n") for line in f if line.strip()]
    headers = [
        ("tenant", b"7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80"),
        ("content_type", b"Audit.General"),
        ("content_id", b"20261201100000000000000000000000000000000000000$20261201100500"),
        ("creation_time", b"2026-12-01T10:00:00"),
    ]
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "delivery.report.only.error": True,
            "transactional.id": "floor-" + topic,
        }
    )
    p.init_transactions()
    m = len(events)
    # The loop without the producer: taken out of the figure.
    c0 = cpu()
    for i in range(n):
        key, value = "t/%d" % i, events[i % m]
    loop = cpu() - c0
    c0, t0 = cpu(), time.time()
    for start in range(0, n, per_tx):
        p.begin_transaction()
        for i in range(start, min(n, start + per_tx)):
            key, value = "t/%d" % i, events[i % m]
            while True:
                try:
                    p.produce(topic, value, key, headers=headers)
                    break
                except BufferError:
                    p.poll(0.1)
        p.flush()
        p.commit_transaction()
    used = cpu() - c0 - loop
    print(json.dumps({"records": n, "cpu_s_per_million": used / (n / 1e6), "wall_s": time.time() - t0}))


if __name__ == "__main__":
    main()
