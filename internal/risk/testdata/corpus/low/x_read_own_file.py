with open('notes.txt') as f:
    print(f.read())
