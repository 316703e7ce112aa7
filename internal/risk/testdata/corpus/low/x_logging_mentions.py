import logging
logging.basicConfig(level=logging.INFO)
logging.info('refusing to run rm -rf /')
