seq 10 | paste -sd+ | bc
