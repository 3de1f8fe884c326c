"""Read a topic the way a consumer of o365mgmt's Kafka sink would: with confluent-kafka
(librdkafka), read_committed, every partition from the start to its end.

Usage: kafka_read.py BOOTSTRAP TOPIC
Prints one JSON object: {"records": N, "by_tenant": {TENANT: [EVENT_ID, ...]}, "bad": [...]}
where every record's key must be "TENANT/ID" and its "tenant" header must match.
"""
import json
import sys

from confluent_kafka import Consumer, KafkaError, TopicPartition

bootstrap, topic = sys.argv[1], sys.argv[2]
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
c.assign([TopicPartition(topic, p, 0) for p in parts])
done, records, by_tenant, bad = set(), 0, {}, []
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
    tenant, _, event_id = key.partition("/")
    if not event_id or headers.get("tenant") != tenant or not m.value():
        bad.append(key)
    json.loads(m.value())  # the value is the event's JSON
    by_tenant.setdefault(tenant, []).append(event_id)
c.close()
print(json.dumps({"records": records, "by_tenant": by_tenant, "bad": bad[:10]}))
