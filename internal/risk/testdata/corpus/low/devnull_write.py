with open("/dev/null", "w") as sink:
    sink.write("discard")
