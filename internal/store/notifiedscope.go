package store

import (
	"context"
	"fmt"
	"strings"
)

// NotifiedItemsOf lists the notify-state records of some accounts only: a
// plan made a few accounts at a time reads what concerns them, not the
// whole organization's.
func (s *Store) NotifiedItemsOf(ctx context.Context, accounts []string) ([]Notified, error) {
	return notifiedOf(ctx, s.db, accounts)
}

// NotifiedItemsOf is Store.NotifiedItemsOf as this transaction sees it.
func (t *Tx) NotifiedItemsOf(ctx context.Context, accounts []string) ([]Notified, error) {
	return notifiedOf(ctx, t.tx, accounts)
}

// notifiedOf reads the notify state of accounts (at most SQLite's 999
// parameters of them).
func notifiedOf(ctx context.Context, q querier, accounts []string) ([]Notified, error) {
	if len(accounts) == 0 {
		return nil, nil
	}
	args := make([]any, len(accounts))
	for i, a := range accounts {
		args[i] = a
	}
	out, err := queryRows(ctx, q, `SELECT `+notifiedColumns+` FROM notify_state WHERE account_id IN (?`+strings.Repeat(", ?", len(accounts)-1)+`)`, scanNotified, args...)
	if err != nil {
		return nil, fmt.Errorf("read notify state of %d accounts: %w", len(accounts), err)
	}
	return out, nil
}
