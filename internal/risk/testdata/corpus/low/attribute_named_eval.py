class Model:
    def eval(self, x):
        return x * 2

    def exec(self):
        return "done"

m = Model()
print(m.eval(21), m.exec())
