"""Count error lines per program in the system log."""
import collections
import re

LINE = re.compile(r"^(\w+ +\d+ [\d:]+) (\S+) ([\w.-]+)(?:\[\d+\])?: (.*)$")


def parse(lines):
    for line in lines:
        m = LINE.match(line)
        if m:
            yield m.group(3), m.group(4)


def errors(entries):
    counts = collections.Counter()
    for prog, msg in entries:
        if "error" in msg.lower() or "fail" in msg.lower():
            counts[prog] += 1
    return counts


def main():
    with open("/var/log/syslog", errors="replace") as f:
        counts = errors(parse(f))
    width = max((len(p) for p in counts), default=10)
    for prog, n in counts.most_common(15):
        print(prog.ljust(width), n)
    print("total", sum(counts.values()))


if __name__ == "__main__":
    main()
