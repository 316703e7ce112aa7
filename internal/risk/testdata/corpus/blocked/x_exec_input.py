exec(input())
