import logging
logging.basicConfig(filename="run.log", level=logging.INFO)
logging.info("hello")
