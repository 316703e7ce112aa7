class Job:
    def run(self):
        return 'ran'

    def system(self):
        return 'sys'

j = Job()
print(j.run(), j.system())
