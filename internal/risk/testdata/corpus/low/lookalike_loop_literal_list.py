for word in ["alpha", "beta"]:
    print(word.upper())
print([len(w) for w in ["a", "bb"]])
