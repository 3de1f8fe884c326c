"""Write events into a topic outside any transaction, as a transaction that never committed
leaves them on a broker that does not hide aborted data: key "TENANT/ID", the headers the
Kafka sink writes, the event's JSON as value.

Usage: kafka_stray.py BOOTSTRAP TOPIC TENANT < events (one JSON object per line)
"""
import json
import sys

from confluent_kafka import Producer

bootstrap, topic, tenant = sys.argv[1], sys.argv[2], sys.argv[3]
p = Producer({"bootstrap.servers": bootstrap})
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    e = json.loads(line)
    p.produce(
        topic,
        key=f"{tenant}/{e['Id']}",
        value=line,
        headers=[("tenant", tenant), ("creation_time", e["CreationTime"])],
    )
left = p.flush(30)
if left:
    raise SystemExit(f"{left} records not delivered")
