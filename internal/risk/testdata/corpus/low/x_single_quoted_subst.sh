echo '$(rm -rf /)'
