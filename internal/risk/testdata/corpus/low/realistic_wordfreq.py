"""Count word frequencies in a text file and write a report."""
import collections
import re
import string

STOP = {"the", "a", "an", "and", "or", "of", "to", "in"}


def tokenize(text):
    text = text.lower()
    text = text.translate(str.maketrans("", "", string.punctuation))
    return [w for w in re.split(r"\s+", text) if w and w not in STOP]


def top(words, n=10):
    return collections.Counter(words).most_common(n)


def render(rows):
    width = max((len(w) for w, _ in rows), default=0)
    lines = []
    for word, count in rows:
        lines.append(f"{word.ljust(width)}  {count}")
    return "\n".join(lines)


def main():
    with open("input.txt") as f:
        words = tokenize(f.read())
    rows = top(words)
    report = render(rows)
    with open("report.txt", "w") as out:
        out.write(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
