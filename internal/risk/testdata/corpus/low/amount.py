amount = 5
price = 2.5
print(amount * price)
