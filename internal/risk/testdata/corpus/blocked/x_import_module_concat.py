import importlib
importlib.import_module('sub' + 'process').run(['id'])
