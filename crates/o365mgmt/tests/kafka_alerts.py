"""Read the alerts o365mgmt delivered to a Kafka topic, as a SOAR's consumer would: with
confluent-kafka (librdkafka), every partition from the start to its end.

Usage: kafka_alerts.py BOOTSTRAP TOPIC
Prints one JSON object: {"ticket_ids": [...], "bad": [...]}, ticket ids in the order read per
partition (partition 0 first); a record is bad when its key is not its alert's ticket_id or it
lacks the o365-spool-offset header.
"""
import json
import sys

from confluent_kafka import Consumer, KafkaError, TopicPartition

bootstrap, topic = sys.argv[1], sys.argv[2]
c = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "o365mgmt-test-alerts-reader",
    "enable.auto.commit": False,
    "enable.partition.eof": True,
    "auto.offset.reset": "earliest",
})
md = c.list_topics(topic, timeout=30)
parts = sorted(md.topics[topic].partitions.keys())
c.assign([TopicPartition(topic, p, 0) for p in parts])
done, by_part, bad, idle = set(), {}, [], 0
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
    alert = json.loads(m.value())
    key = (m.key() or b"").decode()
    headers = dict((k, v.decode()) for k, v in (m.headers() or []))
    if key != alert.get("ticket_id") or not headers.get("o365-spool-offset", "").isdigit():
        bad.append(key)
    by_part.setdefault(m.partition(), []).append(alert["ticket_id"])
c.close()
ids = [i for p in sorted(by_part) for i in by_part[p]]
print(json.dumps({"ticket_ids": ids, "bad": bad[:10]}))
