nohup ./server &
