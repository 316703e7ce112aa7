cat jobs.txt | xargs -I{} sh -c '{}'
