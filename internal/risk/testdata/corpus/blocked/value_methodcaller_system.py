import operator, os
operator.methodcaller("system", "shutdown -h now")(os)
