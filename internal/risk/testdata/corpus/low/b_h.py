class Shell:
    def system(self, cmd):
        return f"would run {cmd}"
    def popen(self, cmd):
        return self.system(cmd)
sh = Shell()
print(sh.system("rm -rf /"), sh.popen("ls"))
