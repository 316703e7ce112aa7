src = open("plugin.txt").read()
code = compile(src, "plugin", "exec")
exec(code)
