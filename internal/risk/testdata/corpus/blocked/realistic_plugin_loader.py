"""Load report plugins and run them over the data set."""
import base64
import json
import statistics

DATA = [12, 15, 11, 19, 22, 13, 17]

PLUGINS = {
    "mean": "cmVzdWx0ID0gc3VtKGRhdGEpIC8gbGVuKGRhdGEp",
}


def describe(values):
    return {
        "n": len(values),
        "min": min(values),
        "max": max(values),
        "median": statistics.median(values),
    }


def run_plugin(name, values):
    scope = {"data": values}
    source = base64.b64decode(PLUGINS[name]).decode()
    exec(source, scope)
    return scope.get("result")


def main():
    report = describe(DATA)
    for name in PLUGINS:
        report[name] = run_plugin(name, DATA)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
