nums = [1, 2, 3]
print(list(map(str, nums)), list(map(chr, [104, 105])))
