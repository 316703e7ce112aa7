# os.system("rm -rf /") would be terrible; we only count words here.
# eval(input()) is also a bad idea.
words = "the quick brown fox".split()
print(len(words))
