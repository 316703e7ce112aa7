bash -c 'echo hi'
