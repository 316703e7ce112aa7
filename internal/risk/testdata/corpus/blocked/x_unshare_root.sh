unshare --user --map-root-user bash
