def apply(fn, text):
    return fn(text)
apply(eval, input())
