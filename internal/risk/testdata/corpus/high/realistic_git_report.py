"""Summarise recent commits by author."""
import collections
import datetime
import subprocess


def parse(log):
    rows = []
    for line in log.splitlines():
        if not line.strip():
            continue
        sha, author, ts, subject = line.split("\x1f", 3)
        rows.append({
            "sha": sha,
            "author": author,
            "when": datetime.datetime.fromtimestamp(int(ts)),
            "subject": subject,
        })
    return rows


def by_author(rows):
    counts = collections.Counter(r["author"] for r in rows)
    return counts.most_common()


def fetch():
    fmt = "%H%x1f%an%x1f%at%x1f%s"
    result = subprocess.run(["git", "log", "-n", "200", "--format=" + fmt], capture_output=True, text=True)
    return result.stdout


def render(counts):
    for author, n in counts:
        bar = "#" * min(n, 40)
        print(f"{author:20} {n:4} {bar}")


def main():
    rows = parse(fetch())
    render(by_author(rows))
    if rows:
        newest = max(r["when"] for r in rows)
        print("newest commit:", newest.date())


if __name__ == "__main__":
    main()
