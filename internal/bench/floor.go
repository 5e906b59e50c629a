package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/reminderd/reminderd/internal/db"
)

// Floor is the least database work a send needs in any design that claims
// a reminder durably before sending it and records the outcome durably
// after: no index but the primary keys and the due index, rows of a few
// columns and 100 sends per transaction.
type Floor struct {
	N                int     `json:"n"`
	CPUMicrosPerSend float64 `json:"cpu_us_per_send"`
}

// floorSchema is the floor's schema: the columns and the one index the
// claim and the record cannot do without.
var floorSchema = []string{
	`CREATE TABLE reminders (id TEXT NOT NULL PRIMARY KEY, openid TEXT NOT NULL, status TEXT NOT NULL,
	 due_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0) STRICT`,
	`CREATE INDEX reminders_due ON reminders (due_at, id) WHERE status = 'scheduled'`,
	`CREATE TABLE deliveries (id INTEGER NOT NULL PRIMARY KEY, reminder_id TEXT NOT NULL, status TEXT NOT NULL, msgid INTEGER) STRICT`,
	`CREATE TABLE consents (openid TEXT NOT NULL, template_id TEXT NOT NULL, credits INTEGER NOT NULL,
	 PRIMARY KEY (openid, template_id)) STRICT, WITHOUT ROWID`,
}

// floor measures Floor with n reminders, on a connection configured as
// reminderd's writer.
func floor(ctx context.Context, path string, n int) (Floor, error) {
	conn, err := sql.Open("sqlite", db.DSN(path, false))
	if err != nil {
		return Floor{}, err
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	for _, s := range floorSchema {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return Floor{}, fmt.Errorf("floor schema: %w", err)
		}
	}
	err = inTx(ctx, conn, func(tx *sql.Tx) error {
		for i := range n {
			id, user := fmt.Sprintf("rem-%08d", i), fmt.Sprintf("user-%08d", i)
			if _, err := tx.ExecContext(ctx, `INSERT INTO reminders (id, openid, status, due_at) VALUES (?, ?, 'scheduled', 1)`, id, user); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO consents VALUES (?, 't', 1)`, user); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Floor{}, fmt.Errorf("floor seed: %w", err)
	}
	cpu := processCPU()
	for done := 0; done < n; {
		ids, users, err := floorDue(ctx, conn)
		if err != nil {
			return Floor{}, err
		}
		if len(ids) == 0 {
			return Floor{}, fmt.Errorf("floor: %d of %d sent, none due", done, n)
		}
		ji, _ := json.Marshal(ids)
		ju, _ := json.Marshal(users)
		// The claim: a credit reserved from each user, the reminders sending.
		err = inTx(ctx, conn, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE consents SET credits = credits - 1
				WHERE openid IN (SELECT value FROM json_each(?)) AND template_id = 't' AND credits > 0`, string(ju)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE reminders SET status = 'sending', attempts = attempts + 1
				WHERE id IN (SELECT value FROM json_each(?)) AND status = 'scheduled'`, string(ji))
			return err
		})
		if err != nil {
			return Floor{}, fmt.Errorf("floor claim: %w", err)
		}
		// The record: the reminders sent, one delivery row each.
		err = inTx(ctx, conn, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE reminders SET status = 'sent'
				WHERE id IN (SELECT value FROM json_each(?)) AND status = 'sending'`, string(ji)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (reminder_id, status, msgid)
				SELECT value, 'sent', key FROM json_each(?)`, string(ji))
			return err
		})
		if err != nil {
			return Floor{}, fmt.Errorf("floor record: %w", err)
		}
		done += len(ids)
	}
	return Floor{N: n, CPUMicrosPerSend: float64((processCPU() - cpu).Microseconds()) / float64(n)}, nil
}

func floorDue(ctx context.Context, conn *sql.DB) (ids, users []string, err error) {
	rows, err := conn.QueryContext(ctx, `SELECT id, openid FROM reminders INDEXED BY reminders_due
		WHERE status = 'scheduled' AND due_at <= 1 ORDER BY due_at, id LIMIT 100`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, user string
		if err := rows.Scan(&id, &user); err != nil {
			return nil, nil, err
		}
		ids, users = append(ids, id), append(users, user)
	}
	return ids, users, rows.Err()
}

func inTx(ctx context.Context, conn *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
