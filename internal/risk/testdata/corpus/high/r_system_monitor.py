"""Print a one-line status of disk, memory and load every few seconds."""
import shutil
import subprocess
import time


def disk():
    total, used, free = shutil.disk_usage(".")
    return f"disk {used * 100 // total}%"


def memory():
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0])
    used = info["MemTotal"] - info["MemAvailable"]
    return f"mem {used * 100 // info['MemTotal']}%"


def load():
    out = subprocess.run(["uptime"], capture_output=True, text=True).stdout
    return "load " + out.rsplit(":", 1)[-1].strip()


def main(rounds=5):
    for _ in range(rounds):
        print(" | ".join([disk(), memory(), load()]))
        time.sleep(2)


if __name__ == "__main__":
    main()
