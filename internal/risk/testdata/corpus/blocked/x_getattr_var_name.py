import os
name = 'system'
getattr(os, name)('id')
