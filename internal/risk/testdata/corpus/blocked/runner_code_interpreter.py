import code
code.InteractiveInterpreter().runsource(open("payload.txt").read())
