echo 'evil' >> ~/.zshrc
