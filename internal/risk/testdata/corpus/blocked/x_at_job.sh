at now + 1 minute <<< 'rm -rf ~'
