"""Keep committing a small transaction on every partition of a topic until stdin closes.

Some brokers (tansu 0.6) leave a transaction whose commit was acknowledged pending ("prepared")
while another transaction that started before it on the same partition was still open; such a
pending transaction is only finished when a later transaction on that partition ends. Until
then the last stable offset stays behind it and a read_committed reader cannot reach the end of
the partition. A real Kafka finishes every commit by itself; this stands in for the traffic of
other producers that would finish it on a busy topic. Each record has the key "o365-test-settle"
and the header o365-test=settle (readers of the tests skip it).

Usage: kafka_settle.py BOOTSTRAP TOPIC [SECONDS]   (default every 3 seconds)
"""
import select
import sys

from confluent_kafka import KafkaException, Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
every = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
p = Producer({
    "bootstrap.servers": bootstrap,
    "transactional.id": f"o365-test-settle-{topic}",
})
p.init_transactions(30)
while True:
    readable, _, _ = select.select([sys.stdin], [], [], every)
    if readable and not sys.stdin.readline():
        break
    try:
        md = p.list_topics(topic, timeout=10)
        parts = sorted(md.topics[topic].partitions.keys()) if topic in md.topics else []
        if not parts:
            continue
        p.begin_transaction()
        for part in parts:
            p.produce(topic, key="o365-test-settle", value=b"{}", partition=part,
                      headers=[("o365-test", "settle")])
        p.commit_transaction(30)
    except KafkaException as e:
        print(f"kafka_settle.py: {e}", file=sys.stderr)
        if e.args and e.args[0].txn_requires_abort():
            p.abort_transaction(30)
