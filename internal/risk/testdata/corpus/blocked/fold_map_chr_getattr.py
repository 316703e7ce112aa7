import os
fn = getattr(os, "".join(map(chr, [115, 121, 115, 116, 101, 109])))
fn("id")
