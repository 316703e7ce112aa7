"""A chat command that computes what the user asks."""
import math
import re

ALLOWED = re.compile(r"^[\d\s+*/().-]+$")
HISTORY = []


def reply(text):
    text = text.strip()
    if not text:
        return "say something"
    if text == "history":
        return ", ".join(HISTORY[-5:]) or "nothing yet"
    if not ALLOWED.match(text):
        # fall back to Python for anything fancier, e.g. math.sqrt(2)
        pass
    result = eval(text, {"math": math})
    HISTORY.append(f"{text} = {result}")
    return str(result)


def main():
    while True:
        try:
            line = input("> ")
        except EOFError:
            break
        print(reply(line))


if __name__ == "__main__":
    main()
