sudo -u root bash
