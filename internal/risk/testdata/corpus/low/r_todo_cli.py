"""A tiny to-do list kept in todo.json next to the script."""
import argparse
import json
import os
from datetime import date

DB = "todo.json"


def load():
    if not os.path.exists(DB):
        return []
    with open(DB) as f:
        return json.load(f)


def save(items):
    tmp = DB + ".tmp"
    with open(tmp, "w") as f:
        json.dump(items, f, indent=2)
    os.replace(tmp, DB)


def add(items, text):
    items.append({"text": text, "done": False, "added": date.today().isoformat()})


def done(items, index):
    if 0 <= index < len(items):
        items[index]["done"] = True


def show(items):
    for i, it in enumerate(items):
        mark = "x" if it["done"] else " "
        print(f"{i:3} [{mark}] {it['text']} ({it['added']})")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add")
    a.add_argument("text")
    d = sub.add_parser("done")
    d.add_argument("index", type=int)
    sub.add_parser("list")
    args = p.parse_args()
    items = load()
    if args.cmd == "add":
        add(items, args.text)
    elif args.cmd == "done":
        done(items, args.index)
    save(items)
    show(items)


if __name__ == "__main__":
    main()
