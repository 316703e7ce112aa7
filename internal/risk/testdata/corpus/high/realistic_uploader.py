"""Collect metrics and post them to a dashboard."""
import json
import platform
import statistics
import time
import urllib.request


def measure(n=5):
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        sum(i * i for i in range(10000))
        samples.append(time.perf_counter() - t0)
    return samples


def payload(samples):
    return {
        "host": platform.node(),
        "mean": statistics.mean(samples),
        "stdev": statistics.pstdev(samples),
        "n": len(samples),
    }


def send(doc):
    body = json.dumps(doc).encode()
    req = urllib.request.Request("https://metrics.example.com/ingest", data=body, method="POST")
    with urllib.request.urlopen(req) as resp:
        return resp.status


def main():
    doc = payload(measure())
    print(json.dumps(doc, indent=2))
    status = send(doc)
    print("status", status)


main()
