alias ll='ls -l'
echo ok
