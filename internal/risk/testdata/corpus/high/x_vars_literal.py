import os
vars(os)['system']('id')
