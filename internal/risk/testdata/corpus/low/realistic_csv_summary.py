import csv
import io
import statistics
from dataclasses import dataclass, field


@dataclass
class Column:
    name: str
    values: list = field(default_factory=list)

    def add(self, v):
        try:
            self.values.append(float(v))
        except ValueError:
            pass

    def summary(self):
        if not self.values:
            return None
        return {
            "min": min(self.values),
            "max": max(self.values),
            "mean": statistics.mean(self.values),
        }


SAMPLE = """name,age,score
ann,31,88.5
bob,45,72
cid,28,91
"""


def load(text):
    reader = csv.DictReader(io.StringIO(text))
    cols = {}
    for row in reader:
        for k, v in row.items():
            cols.setdefault(k, Column(k)).add(v)
    return cols


def main():
    cols = load(SAMPLE)
    with open("summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["column", "min", "max", "mean"])
        for c in cols.values():
            s = c.summary()
            if s:
                w.writerow([c.name, s["min"], s["max"], round(s["mean"], 2)])
    print("wrote summary.csv")


main()
