from collections import defaultdict
graph = defaultdict(list)
for a, b in [("x", "y"), ("y", "z")]:
    graph[a].append(b)
def dfs(n, seen=None):
    seen = seen or set()
    seen.add(n)
    for m in graph[n]:
        if m not in seen:
            dfs(m, seen)
    return seen
print(dfs("x"))
