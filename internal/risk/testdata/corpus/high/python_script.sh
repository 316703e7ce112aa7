python3 analyse.py data.csv
