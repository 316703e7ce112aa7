package audit

import (
	"context"
	"database/sql"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// The benchmarks report ratios against the plain SQLite work the audit log
// is built on, measured in the same run on the same database file: an
// INSERT of the same row in its own transaction with synchronous=FULL, and
// a scan of the same rows. Goals: append ≤ 2× the insert; verify ≥ 200k
// entries/s. Set TMPDIR=/dev/shm to leave the disk's fsync latency out.

// plainTable is the baseline: the same columns, no chain.
const plainTable = `CREATE TABLE plain_log (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
	subject TEXT NOT NULL, details TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL) STRICT`

var benchRecord = Record{Actor: "local", Action: "sandbox.run", Subject: "job-0123456789abcdef",
	Details: map[string]any{"verdict": "HIGH", "approval": "k3m9q2xa", "exit": 0, "duration_ms": 412}}

// BenchmarkAppend alternates blocks of audit appends and plain inserts, so
// both see the same machine load, and reports the ratio of their times.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	d := newDataDir(b)
	d.exec(b, plainTable)
	l := d.open(b)
	conn, err := d.db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		b.Fatal(err)
	}
	details, _ := encodeDetails(benchRecord.Details)
	hash := make([]byte, HashSize)
	var seq int64
	insert := func() {
		seq++
		if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO plain_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, seq, formatTime(time.Now()),
			benchRecord.Actor, benchRecord.Action, benchRecord.Subject, string(details), hash, hash); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
			b.Fatal(err)
		}
	}
	var mine, plain time.Duration
	const block = 50
	for b.Loop() {
		start := time.Now()
		for range block {
			if _, err := l.Append(ctx, benchRecord); err != nil {
				b.Fatal(err)
			}
		}
		mine += time.Since(start)
		start = time.Now()
		for range block {
			insert()
		}
		plain += time.Since(start)
	}
	n := float64(b.N * block)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(n/mine.Seconds(), "appends/s")
	b.ReportMetric(n/plain.Seconds(), "inserts/s")
	b.ReportMetric(float64(mine)/float64(plain), "x-insert")
}

// BenchmarkVerify checks a log of 10^5 entries against a plain scan that
// reads every column of the same rows.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	const entries = 100_000
	d := newDataDir(b)
	l := d.open(b)
	start := time.Now()
	batch := make([]Record, 1000)
	for i := range batch {
		batch[i] = benchRecord
	}
	for range entries / len(batch) {
		if _, err := l.Append(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built a log of %d entries in %v", entries, time.Since(start).Round(time.Millisecond))
	var mine, plain, cpu time.Duration
	for b.Loop() {
		start, cpuStart := time.Now(), cpuTime()
		rep, err := l.Verify(ctx)
		if err != nil || !rep.OK || rep.Entries != entries {
			b.Fatalf("%+v %v", rep, err)
		}
		mine += time.Since(start)
		cpu += cpuTime() - cpuStart
		start = time.Now()
		if n := scanAll(b, d.db.DB); n != entries {
			b.Fatalf("scanned %d rows", n)
		}
		plain += time.Since(start)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(b.N*entries)/mine.Seconds(), "entries/s")
	// On a shared machine the wall clock says more about the neighbours.
	b.ReportMetric(float64(b.N*entries)/cpu.Seconds(), "entries/cpu-s")
	b.ReportMetric(float64(mine)/float64(b.N)/1e6, "verify-ms")
	b.ReportMetric(float64(plain)/float64(b.N)/1e6, "scan-ms")
	b.ReportMetric(float64(mine)/float64(plain), "x-scan")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func scanAll(b *testing.B, db *sql.DB) int {
	rows, err := db.Query(`SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	n := 0
	var seq int64
	var at, actor, action, subject, details, prev, hash sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&seq, &at, &actor, &action, &subject, &details, &prev, &hash); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(fmt.Errorf("scan: %w", err))
	}
	return n
}
