"""Render a greeting card from a template."""
import json
import string
import textwrap

TEMPLATE = string.Template(textwrap.dedent("""
    Dear $name,

    Happy $occasion! We wish you $wish.

    -- $sender
"""))

DEFAULTS = {
    "occasion": "birthday",
    "wish": "a wonderful year",
    "sender": "the team",
}


def load_people(text):
    people = json.loads(text)
    for p in people:
        for k, v in DEFAULTS.items():
            p.setdefault(k, v)
    return people


def card(person):
    return TEMPLATE.substitute(person)


def main():
    import os
    sender = os.environ.get("CARD_SENDER", "the team")
    people = load_people('[{"name": "Ann"}, {"name": "Bo", "occasion": "anniversary"}]')
    for p in people:
        p["sender"] = sender
        print(card(p))
        print("-" * 30)


if __name__ == "__main__":
    main()
