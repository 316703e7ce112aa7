#!/bin/sh
# Summarise the machine from /proc without running anything else.
echo "== cpu"
grep -m1 'model name' /proc/cpuinfo | cut -d: -f2
grep -c '^processor' /proc/cpuinfo

echo "== memory"
head -n 3 /proc/meminfo

echo "== uptime"
cut -d' ' -f1 /proc/uptime

echo "== load"
cat /proc/loadavg
