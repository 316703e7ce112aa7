import pickle
data = open('blob', 'rb').read()
obj = pickle.loads(data)
