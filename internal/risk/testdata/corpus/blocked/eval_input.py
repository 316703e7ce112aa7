print(eval(input("expr> ")))
