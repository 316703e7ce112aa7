import argparse
p = argparse.ArgumentParser()
p.add_argument('file')
args = p.parse_args()
print(open(input('file? ')).read())
