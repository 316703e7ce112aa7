eval.__call__(input())
