import heapq, bisect
h = [5, 1, 3]
heapq.heapify(h)
print(heapq.heappop(h), bisect.bisect([1, 2, 3], 2))
