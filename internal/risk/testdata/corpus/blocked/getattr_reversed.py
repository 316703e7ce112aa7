import os
fn = getattr(os, "metsys"[::-1])
fn("whoami")
