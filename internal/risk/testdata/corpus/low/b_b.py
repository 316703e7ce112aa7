import subprocess  # only for the constant below
TIMEOUT = subprocess.TimeoutExpired
def evaluate(expr):
    return sum(int(x) for x in expr.split("+"))
print(evaluate("1+2"))
