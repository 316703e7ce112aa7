print(str.upper.__call__("hi"), len.__call__([1]))
