ops = {'eval': 1, 'exec': 2}
print(ops['eval'] + ops['exec'])
