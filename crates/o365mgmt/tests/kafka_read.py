"""Read a topic the way a consumer of o365mgmt would: with confluent-kafka (librdkafka),
read_committed, every partition from the start to its end.

Usage: kafka_read.py BOOTSTRAP TOPIC [--alerts]
Events (the Kafka sink): prints {"records": N, "by_tenant": {TENANT: [EVENT_ID, ...]}, "bad": [...]}
where every record's key must be "TENANT/ID" and its "tenant" header must match.
Alerts (`o365mgmt alerts --sink kafka://...`): prints {"ticket_ids": [...], "bad": [...]}, in the
order read per partition (partition 0 first), where every record's key must be its alert's
ticket_id and it must carry the o365-spool-offset header.
"""
import json
import sys

from confluent_kafka import Consumer, KafkaError, TopicPartition

bootstrap, topic = sys.argv[1], sys.argv[2]
alerts = "--alerts" in sys.argv[3:]
c = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "o365mgmt-test-reader",
    "isolation.level": "read_committed",
    "enable.auto.commit": False,
    "enable.partition.eof": True,
    "auto.offset.reset": "earliest",
})
md = c.list_topics(topic, timeout=30)
parts = sorted(md.topics[topic].partitions.keys())
# A transaction left open by a killed writer hides everything after it from read_committed
# readers until the broker aborts it (at its timeout): wait until no partition has one, i.e.
# its last stable offset (what a read_committed query answers) is its end.
import time
raw = Consumer({"bootstrap.servers": bootstrap, "group.id": "o365mgmt-test-ends",
                "isolation.level": "read_uncommitted"})
deadline = time.time() + 120
for p in parts:
    while True:
        stable = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30, cached=False)[1]
        end = raw.get_watermark_offsets(TopicPartition(topic, p), timeout=30, cached=False)[1]
        if stable >= end or time.time() > deadline:
            break
        time.sleep(0.2)
raw.close()
c.assign([TopicPartition(topic, p, 0) for p in parts])
done, records, by_tenant, by_part, bad = set(), 0, {}, {}, []
idle = 0
while len(done) < len(parts):
    m = c.poll(1.0)
    if m is None:
        idle += 1
        if idle > 60:
            raise SystemExit("no end of partition after 60 s")
        continue
    idle = 0
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            done.add(m.partition())
            continue
        raise SystemExit(str(m.error()))
    records += 1
    key = (m.key() or b"").decode()
    headers = dict((k, v.decode()) for k, v in (m.headers() or []))
    value = json.loads(m.value())  # events and alerts are JSON
    if alerts:
        if key != value.get("ticket_id") or not headers.get("o365-spool-offset", "").isdigit():
            bad.append(key)
        by_part.setdefault(m.partition(), []).append(value["ticket_id"])
        continue
    tenant, _, event_id = key.partition("/")
    if not event_id or headers.get("tenant") != tenant or not m.value():
        bad.append(key)
    by_tenant.setdefault(tenant, []).append(event_id)
c.close()
if alerts:
    ids = [i for p in sorted(by_part) for i in by_part[p]]
    print(json.dumps({"ticket_ids": ids, "bad": bad[:10]}))
else:
    print(json.dumps({"records": records, "by_tenant": by_tenant, "bad": bad[:10]}))
