import yaml
data = yaml.load(open("config.yml"))
